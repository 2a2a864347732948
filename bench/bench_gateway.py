"""MCP gateway micro-benchmark: the latency the gateway adds to one ``tools/call`` over
stdio, against calling the same server directly.

Every path uses the official ``mcp`` client in this one process, the same upstream (the
small ``MCPServer`` fixture in ``tests/fixtures/mcp_servers``) and the same call. Through
the gateway a call crosses one more process and pipe pair, is pinned, decided by the
policy, scanned by guard on the way in and out, and audited (batched durability, the
gateway default); the ``noscan`` gateway switches guard's argument and output scans off.

The paths are measured interleaved: every session is opened first, then each round makes
one call on each, in an order that rotates every round, so load from other work on the
machine falls on all of them alike. ``run(quick)`` returns medians and p99s of each path
and the difference of the medians (target: added p50 <= 1 ms). Run alone:
``python -m bench.bench_gateway [--quick]``; ``--callgrind [gateway|noscan] [SRC]``
counts instructions per call in the gateway process instead (needs valgrind).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "mcp_servers" / "changing_server.py"
POLICY = """\
version: 1
blueprints:
  clerk:
    permissions:
      base:
        - id: lookup
          tools: [lookup]
          servers: [records]
          args:
            record_id: {type: string, max_length: 64}
agents:
  clerk-1: {blueprint: clerk}
"""
TARGET_ADDED_P50_MS = 1.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _measure(
    variants: Mapping[str, StdioServerParameters], calls: int, warmup: int
) -> dict[str, list[float]]:
    """Milliseconds per ``tools/call`` on each variant, measured in rotating rounds."""
    timings: dict[str, list[float]] = {name: [] for name in variants}
    async with AsyncExitStack() as stack:
        sessions: dict[str, ClientSession] = {}
        for name, params in variants.items():
            read, write = await stack.enter_async_context(stdio_client(params))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            await session.list_tools()
            sessions[name] = session
        names = list(sessions)
        for index in range(warmup + calls):
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                started = time.perf_counter()
                result = await sessions[name].call_tool("lookup", {"record_id": f"r{index}"})
                elapsed = time.perf_counter() - started
                if result.is_error:
                    raise RuntimeError(f"the call through `{name}` failed: {result.content}")
                if index >= warmup:
                    timings[name].append(elapsed * 1000.0)
    return timings


def _write_configs(root: Path, state: Path) -> None:
    (root / "policy.yaml").write_text(POLICY)
    for name, scanning in (("gateway", "true"), ("noscan", "false")):
        (root / f"{name}.yaml").write_text(
            textwrap.dedent(
                f"""\
                version: 1
                policy: policy.yaml
                data_dir: data-{name}
                audit: {{durability: batched}}
                scanning: {{descriptions: true, outputs: {scanning}, arguments: {scanning}}}
                upstreams:
                  - name: records
                    command: {sys.executable}
                    args: [{FIXTURE}]
                    env: {{ZTGATE_FIXTURE_STATE: {state}}}
                """
            )
        )


def variants(
    root: Path, state: Path, pythonpath: str | None = None
) -> dict[str, StdioServerParameters]:
    """The three paths: the server direct, through the gateway, through it unscanned.
    ``pythonpath`` picks the ztgate sources the gateways run (to compare two trees)."""
    _write_configs(root, state)
    path = pythonpath if pythonpath is not None else os.pathsep.join(sys.path)
    env = {"ZTGATE_FIXTURE_STATE": str(state), "PYTHONPATH": path}

    def through(config: str) -> StdioServerParameters:
        args = ["-m", "ztgate", "gateway", "--config", str(root / config)]
        args += ["--agent", "clerk-1", "--upstream", "records"]
        return StdioServerParameters(command=sys.executable, args=args, env=env, cwd=str(root))

    direct = StdioServerParameters(command=sys.executable, args=[str(FIXTURE)], env=env)
    return {"direct": direct, "gateway": through("gateway.yaml"), "noscan": through("noscan.yaml")}


def run(quick: bool) -> dict[str, Any]:
    calls, warmup = (300, 30) if quick else (2000, 100)
    with tempfile.TemporaryDirectory(prefix="ztgate-bench-gw-") as tmp:
        root = Path(tmp)
        state = root / "state.txt"
        state.write_text("v1")
        ms = anyio.run(_measure, variants(root, state), calls, warmup)
    direct_p50 = statistics.median(ms["direct"])
    gateway_p50 = statistics.median(ms["gateway"])
    added = gateway_p50 - direct_p50
    return {
        "calls": calls,
        "interleaved": True,
        "direct_p50_ms": round(direct_p50, 3),
        "direct_p99_ms": round(_percentile(ms["direct"], 0.99), 3),
        "gateway_p50_ms": round(gateway_p50, 3),
        "gateway_p99_ms": round(_percentile(ms["gateway"], 0.99), 3),
        "noscan_p50_ms": round(statistics.median(ms["noscan"]), 3),
        "added_p50_ms": round(added, 3),
        "added_p50_without_scanning_ms": round(statistics.median(ms["noscan"]) - direct_p50, 3),
        "added_p50_target_ms": TARGET_ADDED_P50_MS,
        "added_p50_within_target": added <= TARGET_ADDED_P50_MS,
    }


async def _count(params: StdioServerParameters, calls: int, out: Path) -> None:
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await session.list_tools()
        for index in range(30):
            await session.call_tool("lookup", {"record_id": f"r{index}"})
        found = subprocess.run(
            ["pgrep", "-f", "--", f"callgrind-out-file={out}"], capture_output=True, check=True
        )
        pid = found.stdout.split()[0].decode()
        subprocess.run(["callgrind_control", "-i", "on", pid], capture_output=True, check=True)
        for index in range(calls):
            await session.call_tool("lookup", {"record_id": f"r{index}"})
        subprocess.run(["callgrind_control", "-i", "off", pid], capture_output=True, check=True)
        subprocess.run(["callgrind_control", "-d", pid], capture_output=True, check=True)


def instructions(variant: str = "gateway", calls: int = 300, src: str | None = None) -> int:
    """Instructions per ``tools/call`` in the gateway process (all its threads), counted
    by callgrind after 30 warm-up calls: repeatable however loaded the machine is.
    ``src`` runs the gateway from another ztgate source tree (to compare two trees)."""
    with tempfile.TemporaryDirectory(prefix="ztgate-bench-cg-") as tmp:
        root = Path(tmp)
        state = root / "state.txt"
        state.write_text("v1")
        path = None if src is None else os.pathsep.join([src, *sys.path])
        params = variants(root, state, path)[variant]
        out = root / "callgrind"
        wrapped = StdioServerParameters(
            command="valgrind",
            args=[
                "-q",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}.%p",
                params.command,
                *params.args,
            ],
            env=params.env,
            cwd=params.cwd,
        )
        anyio.run(_count, wrapped, calls, out)
        total = 0
        for dump in root.glob("callgrind.*"):
            for line in dump.read_text().splitlines():
                if line.startswith("totals:"):
                    total += int(line.split()[1])
    return total // calls


if __name__ == "__main__":
    if "--callgrind" in sys.argv:
        # python -m bench.bench_gateway --callgrind [gateway|noscan] [SRC_DIR]
        rest = [a for a in sys.argv[1:] if a != "--callgrind"]
        variant = rest[0] if rest else "gateway"
        print(json.dumps({variant: instructions(variant, src=rest[1] if len(rest) > 1 else None)}))
    else:
        print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
