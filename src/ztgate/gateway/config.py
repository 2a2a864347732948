"""The gateway configuration file: upstreams, policy, identity, pins, audit, scanning.

Loaded as strictly as a policy: the same YAML reader (no aliases, tags or duplicate
keys), the published JSON Schema (``config.schema.json``) for the shape, and every problem
reported with file and line. Relative paths are resolved against the file's directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft202012Validator

from ztgate.core.policy._source import SourceError, SourceMap, load_text
from ztgate.core.policy.schema import structural_problems
from ztgate.errors import ConfigError, Problem, SourceLocation, UsageError

DEFAULT_DATA_DIR = ".ztgate"
PIN_FILE = "gateway-pins.db"


@cache
def config_schema() -> dict[str, Any]:
    """The published JSON Schema of gateway configuration files (version 1)."""
    text = resources.files("ztgate.gateway").joinpath("config.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(config_schema())


@dataclass(frozen=True, slots=True)
class Upstream:
    """One MCP server behind the gateway: a local command (stdio) or a URL (HTTP).

    ``headers_from_env`` names the environment variables holding the gateway's own
    credentials for an HTTP upstream; a client's credentials are never forwarded.
    """

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers_from_env: dict[str, str] = field(default_factory=dict)

    @property
    def transport(self) -> Literal["stdio", "http"]:
        return "stdio" if self.command is not None else "http"


@dataclass(frozen=True, slots=True)
class Scanning:
    """Which directions the guard scanners inspect, and the guard policy file (if not the
    gateway's default) that maps their findings to actions."""

    guard_policy: Path | None = None
    descriptions: bool = True
    outputs: bool = True
    arguments: bool = True


@dataclass(frozen=True, slots=True)
class IdentityConfig:
    """Where agents are registered and which tokens the HTTP transport accepts.

    ``audience`` is this gateway's resource identifier: a token must name it (RFC 8707),
    so a token minted for another service is refused here.
    """

    store: str | None = None
    issuer: str | None = None
    audience: str | None = None
    required_scopes: tuple[str, ...] = ()
    external_issuers: bool = False
    check_agent_status: bool = True


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    policy: Path
    data_dir: Path
    pin_path: Path
    trust_on_first_use: bool = True
    audit_enabled: bool = True
    audit_store: str | None = None
    audit_durability: Literal["strict", "batched"] = "batched"
    scanning: Scanning = Scanning()
    identity: IdentityConfig = IdentityConfig()
    http_host: str = "127.0.0.1"
    http_port: int = 8765
    public_url: str | None = None
    upstreams: tuple[Upstream, ...] = ()
    source: Path | None = None

    def upstream(self, name: str) -> Upstream:
        for upstream in self.upstreams:
            if upstream.name == name:
                return upstream
        raise UsageError(f"no upstream `{name}` in the gateway configuration")


def load_config(path: str | Path) -> GatewayConfig:
    """Read and validate a gateway configuration file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read gateway config `{file}`: {error}") from None
    return parse_config(text, str(file), base=file.resolve().parent)


def parse_config(
    text: str, file: str = "<gateway-config>", *, base: Path | None = None
) -> GatewayConfig:
    """Validate configuration ``text``; relative paths resolve against ``base``."""
    try:
        data, smap = load_text(text, file)
    except SourceError as error:
        raise ConfigError(error.problems) from None
    if data is None:
        raise ConfigError([Problem("the configuration is empty", SourceLocation(file))])
    problems = structural_problems(data, smap, _validator())
    if problems:
        raise ConfigError(problems)
    problems = _semantic_problems(data, smap)
    if problems:
        raise ConfigError(problems)
    root = base if base is not None else Path.cwd()
    return _build(data, root, Path(file) if base is not None else None)


def _semantic_problems(data: dict[str, Any], smap: SourceMap) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, item in enumerate(data.get("upstreams", [])):
        where = ("upstreams", index)
        name = item["name"]
        if name in seen:
            problems.append(smap.problem((*where, "name"), f"duplicate upstream name `{name}`"))
        seen.add(name)
        has_command, has_url = "command" in item, "url" in item
        if has_command == has_url:
            problems.append(
                smap.problem(where, f"upstream `{name}` needs exactly one of `command` or `url`")
            )
        if has_url:
            for key in ("args", "env", "cwd"):
                if key in item:
                    problems.append(
                        smap.problem((*where, key), f"`{key}` applies to `command` upstreams only")
                    )
        if has_command and "headers_from_env" in item:
            problems.append(
                smap.problem(
                    (*where, "headers_from_env"),
                    "`headers_from_env` applies to `url` upstreams only",
                )
            )
    return problems


def _resolve(root: Path, value: str) -> Path:
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else root / candidate


def _build(data: dict[str, Any], root: Path, source: Path | None) -> GatewayConfig:
    data_dir = _resolve(root, data.get("data_dir", DEFAULT_DATA_DIR))
    pins = data.get("pins", {})
    audit = data.get("audit", {})
    scanning = data.get("scanning", {})
    identity = data.get("identity", {})
    http = data.get("http", {})
    store = identity.get("store")
    if store is not None and "://" not in store:
        store = str(_resolve(root, store))
    audit_store = audit.get("store")
    return GatewayConfig(
        policy=_resolve(root, data["policy"]),
        data_dir=data_dir,
        pin_path=_resolve(data_dir, pins["path"]) if "path" in pins else data_dir / PIN_FILE,
        trust_on_first_use=pins.get("trust_on_first_use", True),
        audit_enabled=audit.get("enabled", True),
        audit_store=audit_store,
        audit_durability=audit.get("durability", "batched"),
        scanning=Scanning(
            guard_policy=_resolve(root, scanning["guard_policy"])
            if "guard_policy" in scanning
            else None,
            descriptions=scanning.get("descriptions", True),
            outputs=scanning.get("outputs", True),
            arguments=scanning.get("arguments", True),
        ),
        identity=IdentityConfig(
            store=store,
            issuer=identity.get("issuer"),
            audience=identity.get("audience"),
            required_scopes=tuple(identity.get("required_scopes", ())),
            external_issuers=identity.get("external_issuers", False),
            check_agent_status=identity.get("check_agent_status", True),
        ),
        http_host=http.get("host", "127.0.0.1"),
        http_port=http.get("port", 8765),
        public_url=http.get("public_url"),
        upstreams=tuple(
            Upstream(
                name=u["name"],
                command=u.get("command"),
                args=tuple(u.get("args", ())),
                env=dict(u.get("env", {})),
                cwd=str(_resolve(root, u["cwd"])) if "cwd" in u else None,
                url=u.get("url"),
                headers_from_env=dict(u.get("headers_from_env", {})),
            )
            for u in data.get("upstreams", [])
        ),
        source=source,
    )
