"""MCP gateway micro-benchmark: the latency the gateway adds to one ``tools/call`` over
stdio, against calling the same server directly.

Both paths use the official ``mcp`` client and the same upstream (the small ``MCPServer``
fixture in ``tests/fixtures/mcp_servers``). Through the gateway a call crosses one more
process and pipe pair, is pinned, decided by the policy, scanned by guard on the way in
and out, and audited (batched durability, the gateway default). ``run(quick)`` returns
medians and p99s of both paths and the difference of the medians (target: <= 1 ms).
Run alone: ``python -m bench.bench_gateway``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import textwrap
import time
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


async def _measure(params: StdioServerParameters, calls: int, warmup: int) -> list[float]:
    timings: list[float] = []
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await session.list_tools()
        for index in range(warmup + calls):
            started = time.perf_counter()
            result = await session.call_tool("lookup", {"record_id": f"r{index}"})
            elapsed = time.perf_counter() - started
            if result.is_error:
                raise RuntimeError(f"the call failed: {result.content}")
            if index >= warmup:
                timings.append(elapsed * 1000.0)
    return timings


def run(quick: bool) -> dict[str, Any]:
    calls, warmup = (200, 30) if quick else (1000, 100)
    with tempfile.TemporaryDirectory(prefix="ztgate-bench-gw-") as tmp:
        root = Path(tmp)
        state = root / "state.txt"
        state.write_text("v1")
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
        env = {"ZTGATE_FIXTURE_STATE": str(state), "PYTHONPATH": os.pathsep.join(sys.path)}
        direct = StdioServerParameters(command=sys.executable, args=[str(FIXTURE)], env=env)

        def through(config: str) -> StdioServerParameters:
            args = ["-m", "ztgate", "gateway", "--config", str(root / config)]
            args += ["--agent", "clerk-1", "--upstream", "records"]
            return StdioServerParameters(command=sys.executable, args=args, env=env, cwd=str(root))

        direct_ms = anyio.run(_measure, direct, calls, warmup)
        gateway_ms = anyio.run(_measure, through("gateway.yaml"), calls, warmup)
        noscan_ms = anyio.run(_measure, through("noscan.yaml"), calls, warmup)
    direct_p50 = statistics.median(direct_ms)
    gateway_p50 = statistics.median(gateway_ms)
    added = gateway_p50 - direct_p50
    return {
        "calls": calls,
        "direct_p50_ms": round(direct_p50, 3),
        "direct_p99_ms": round(_percentile(direct_ms, 0.99), 3),
        "gateway_p50_ms": round(gateway_p50, 3),
        "gateway_p99_ms": round(_percentile(gateway_ms, 0.99), 3),
        "added_p50_ms": round(added, 3),
        "added_p50_without_scanning_ms": round(statistics.median(noscan_ms) - direct_p50, 3),
        "added_p50_target_ms": TARGET_ADDED_P50_MS,
        "added_p50_within_target": added <= TARGET_ADDED_P50_MS,
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
