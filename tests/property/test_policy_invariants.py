"""Property tests for the decision rules every security reviewer will ask about."""

from __future__ import annotations

import math
import posixpath
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ztgate import Gate
from ztgate.core.models import Effect, Request
from ztgate.core.policy import evaluate, load_policy

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
AGENTS = ["a", "b", "c"]
TOOLS = ["t.read", "t.write", "u.exec"]

# -- forbid beats permit, for any rule set -------------------------------------------------

rule_strategy = st.fixed_dictionaries(
    {
        "effect": st.sampled_from(["allow", "deny", "approval_required"]),
        "subject": st.sampled_from(["any", *AGENTS]),
        "tool": st.sampled_from([*TOOLS, "t.*", "*"]),
        "max": st.none() | st.integers(-5, 5),
    }
)


def _policy_text(rules: list[dict[str, Any]]) -> str:
    doc: dict[str, Any] = {
        "version": 1,
        "agents": {a: {} for a in AGENTS},
        "policies": [{"id": "p", "rules": []}],
    }
    for i, r in enumerate(rules):
        rule: dict[str, Any] = {
            "id": f"r{i}",
            "effect": r["effect"],
            "subjects": "any" if r["subject"] == "any" else {"agents": [r["subject"]]},
            "tools": [r["tool"]],
        }
        if r["max"] is not None:
            rule["args"] = {"n": {"type": "integer", "max": r["max"]}}
        doc["policies"][0]["rules"].append(rule)
    return yaml.safe_dump(doc)


def _outcome(r: dict[str, Any], agent: str, tool: str, n: Any) -> bool | None:
    """Whether one generated rule applies: True, False, or None when it cannot be judged."""
    if r["subject"] not in ("any", agent):
        return False
    if not (r["tool"] in (tool, "*") or (r["tool"] == "t.*" and tool.startswith("t."))):
        return False
    if r["max"] is None:
        return True
    if type(n) is not int:
        return None
    return bool(n <= r["max"])


def _reference(rules: list[dict[str, Any]], agent: str, tool: str, n: Any) -> Effect:
    """An independent, obviously-correct statement of the combining rules."""
    results = [(r["effect"], _outcome(r, agent, tool, n)) for r in rules]
    if any(e == "deny" and o is not False for e, o in results):
        return Effect.DENY
    if any(e == "approval_required" and o is None for e, o in results):
        return Effect.DENY
    if any(e == "approval_required" and o is True for e, o in results):
        return Effect.APPROVAL_REQUIRED
    if any(e == "allow" and o is True for e, o in results):
        return Effect.ALLOW
    return Effect.DENY


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rules=st.lists(rule_strategy, max_size=8),
    agent=st.sampled_from([*AGENTS, "stranger"]),
    tool=st.sampled_from(TOOLS),
    n=st.one_of(st.integers(-10, 10), st.none(), st.text(max_size=3), st.booleans(), st.floats()),
)
def test_decisions_match_reference_and_forbid_wins(
    rules: list[dict[str, Any]], agent: str, tool: str, n: Any
) -> None:
    policy = load_policy(_policy_text(rules))
    decision = evaluate(policy, Request(agent, tool, {"n": n}, NOW))
    expected = Effect.DENY if agent == "stranger" else _reference(rules, agent, tool, n)
    assert decision.effect is expected, (decision.to_dict(), rules)
    forbid_applies = agent != "stranger" and any(
        r["effect"] == "deny" and _outcome(r, agent, tool, n) is not False for r in rules
    )
    if forbid_applies:
        assert decision.effect is Effect.DENY


# -- errors inside evaluation deny -----------------------------------------------------------


class ExplodingArgs(Mapping[str, Any]):
    """Arguments that fail the moment the evaluator touches them."""

    def __init__(self, error: type[BaseException]) -> None:
        self.error = error

    def __getitem__(self, key: str) -> Any:
        raise self.error("boom")

    def get(self, key: str, default: Any = None) -> Any:
        raise self.error("boom")

    def __iter__(self) -> Iterator[str]:
        raise self.error("boom")

    def __len__(self) -> int:
        raise self.error("boom")


PERMISSIVE = load_policy(
    """
version: 1
agents: {a: {}}
policies:
  - id: p
    rules:
      - {id: open, effect: allow, subjects: any, tools: ["*"], args: {n: {type: integer, max: 10}}}
      - {id: closed, effect: allow, subjects: any, tools: [closed], args: {n: {type: integer}}, additional_args: false}
"""
)


@given(
    error=st.sampled_from(
        [ValueError, TypeError, KeyError, RuntimeError, ZeroDivisionError, RecursionError]
    ),
    tool=st.sampled_from(["x", "closed"]),
)
def test_any_exception_inside_evaluation_denies(error: type[BaseException], tool: str) -> None:
    decision = evaluate(PERMISSIVE, Request("a", tool, ExplodingArgs(error), NOW))
    assert decision.effect is Effect.DENY
    gate = Gate(PERMISSIVE)
    assert not gate.authorize(agent="a", tool=tool, args=ExplodingArgs(error)).allowed


@given(
    agent=st.one_of(st.text(), st.integers(), st.none(), st.lists(st.text())),
    tool=st.one_of(st.text(), st.integers(), st.none(), st.lists(st.text())),
    args=st.one_of(st.none(), st.text(), st.integers(), st.lists(st.integers())),
    context=st.one_of(st.none(), st.text(), st.dictionaries(st.text(), st.text())),
)
def test_garbage_requests_never_allow_or_raise(
    agent: Any, tool: Any, args: Any, context: Any
) -> None:
    decision = Gate(PERMISSIVE).authorize(agent=agent, tool=tool, args=args, context=context)
    if decision.allowed:
        # The only way through is a well-formed request that satisfies the open rule.
        assert agent == "a"
        assert isinstance(tool, str)
        assert isinstance(args, dict)
        assert type(args.get("n")) is int


# -- an empty or missing policy denies -------------------------------------------------------


@given(
    agent=st.text(max_size=8),
    tool=st.text(max_size=8),
    args=st.dictionaries(st.text(max_size=4), st.integers()),
)
def test_no_policy_or_no_rules_denies(agent: str, tool: str, args: dict[str, int]) -> None:
    assert Gate().authorize(agent=agent, tool=tool, args=args).effect is Effect.DENY
    empty = load_policy(
        "version: 1\nagents: {%s: {}}\n" % (agent if agent.isalnum() and agent.isascii() else "a")
    )
    assert evaluate(empty, Request(agent, tool, args, NOW)).effect is Effect.DENY
    assert evaluate(None, Request(agent, tool, args, NOW)).effect is Effect.DENY


# -- type confusion never allows -------------------------------------------------------------

BENCH = load_policy(
    """
version: 1
blueprints: {finance-bot: {}}
agents: {fin-1: {blueprint: finance-bot}}
policies:
  - id: p
    rules:
      - id: pay
        effect: allow
        subjects: {blueprints: [finance-bot]}
        tools: [payment.send]
        args:
          amount: {type: integer, max: 100}
          recipient: {in: [vendor-a, vendor-b]}
"""
)

confusing = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=5),
    st.floats(),
    st.just(math.nan),
    st.just(math.inf),
    st.just(-math.inf),
    st.integers(min_value=101),
    st.integers(min_value=10**20, max_value=10**400),
    st.lists(st.integers(0, 100), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.binary(max_size=4),
    st.tuples(st.integers(0, 100)),
)


@settings(max_examples=400)
@given(amount=confusing, recipient=st.sampled_from(["vendor-a", "vendor-b"]))
def test_type_confusion_never_allows(amount: Any, recipient: str) -> None:
    decision = evaluate(
        BENCH, Request("fin-1", "payment.send", {"amount": amount, "recipient": recipient}, NOW)
    )
    assert decision.effect is Effect.DENY


@given(
    amount=st.integers(max_value=100),
    recipient=st.one_of(st.text(max_size=10), st.none(), st.integers()),
)
def test_recipient_must_be_exactly_listed(amount: int, recipient: Any) -> None:
    decision = evaluate(
        BENCH, Request("fin-1", "payment.send", {"amount": amount, "recipient": recipient}, NOW)
    )
    assert decision.allowed == (recipient in ("vendor-a", "vendor-b"))


# -- paths cannot escape their roots ---------------------------------------------------------

PATHS = load_policy(
    """
version: 1
agents: {a: {}}
policies:
  - id: p
    rules:
      - {id: data, effect: allow, subjects: any, tools: [read], args: {p: {type: path, under: [/data]}}}
"""
)

segment = st.sampled_from(
    [
        "data",
        "..",
        ".",
        "",
        "etc",
        "%2e%2e",
        "%2e",
        "%2f",
        "..%2f",
        "%252e%252e",
        "\\..",
        "x",
        "．．",
        "%c0%ae%c0%ae",
    ]
)


@settings(max_examples=500)
@given(parts=st.lists(segment, min_size=1, max_size=8))
def test_allowed_paths_stay_under_the_root(parts: list[str]) -> None:
    raw = "/" + "/".join(parts)
    decision = evaluate(PATHS, Request("a", "read", {"p": raw}, NOW))
    if decision.allowed:
        # Every plausible reading of the path must resolve under /data.
        import unicodedata
        from urllib.parse import unquote

        readings = {raw}
        decoded = raw
        for _ in range(4):
            decoded = unquote(decoded)
            readings.add(decoded)
        for reading in list(readings):
            readings.add(reading.replace("\\", "/"))
        for reading in readings:
            resolved = posixpath.normpath(unicodedata.normalize("NFKC", reading))
            resolved = "/" + resolved.lstrip("/")
            assert resolved == "/data" or resolved.startswith("/data/"), (raw, reading, resolved)


# -- URLs to private or metadata addresses are refused ---------------------------------------

URLS = load_policy(
    """
version: 1
agents: {a: {}}
policies:
  - id: p
    rules:
      - {id: web, effect: allow, subjects: any, tools: [fetch], args: {u: {type: url, schemes: [http, https]}}}
"""
)


def _spellings(octets: tuple[int, int, int, int]) -> list[str]:
    a, b, c, d = octets
    value = (a << 24) | (b << 16) | (c << 8) | d
    return [
        f"{a}.{b}.{c}.{d}",
        str(value),
        hex(value),
        f"0{a:o}.{b}.{c}.{d}",
        f"{a}.{(b << 16) | (c << 8) | d}",
        f"[::ffff:{a}.{b}.{c}.{d}]",
        f"[::ffff:{(a << 8 | b):x}:{(c << 8 | d):x}]",
    ]


private_ipv4 = st.one_of(
    st.tuples(st.just(127), st.integers(0, 255), st.integers(0, 255), st.integers(1, 254)),
    st.tuples(st.just(10), st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)),
    st.tuples(st.just(192), st.just(168), st.integers(0, 255), st.integers(0, 255)),
    st.tuples(st.just(172), st.integers(16, 31), st.integers(0, 255), st.integers(0, 255)),
    st.tuples(st.just(169), st.just(254), st.integers(0, 255), st.integers(0, 255)),
    st.just((0, 0, 0, 0)),
)


@settings(max_examples=300)
@given(
    octets=private_ipv4,
    scheme=st.sampled_from(["http", "https"]),
    path=st.sampled_from(["", "/", "/latest/meta-data"]),
)
def test_private_addresses_are_refused_in_every_spelling(
    octets: tuple[int, int, int, int], scheme: str, path: str
) -> None:
    for host in _spellings(octets):
        url = f"{scheme}://{host}{path}"
        decision = evaluate(URLS, Request("a", "fetch", {"u": url}, NOW))
        assert decision.effect is Effect.DENY, url


# -- a forbidden tool cannot be reached by padding its name --------------------------------

PADDED_POLICY = load_policy(
    yaml.safe_dump(
        {
            "version": 1,
            "agents": {"a": {}},
            "policies": [
                {
                    "id": "p",
                    "rules": [
                        {
                            "id": "all-files",
                            "effect": "allow",
                            "subjects": "any",
                            "tools": ["files.*"],
                        },
                        {
                            "id": "no-secrets",
                            "effect": "deny",
                            "subjects": "any",
                            "tools": ["files.read_secrets"],
                        },
                    ],
                }
            ],
        }
    ),
    "padded.yaml",
)
padding = st.text(
    st.characters(categories=("Zs", "Zl", "Zp", "Cc")) | st.sampled_from(list(" \t\n\r\v\f")),
    min_size=1,
    max_size=3,
)


@given(before=padding | st.just(""), after=padding | st.just(""), inside=st.booleans())
def test_whitespace_or_controls_around_a_forbidden_name_never_allow(
    before: str, after: str, inside: bool
) -> None:
    """``files.read_secrets\\n`` matched ``files.*`` and not the forbid, and an executor
    that trims names would have run the forbidden tool."""
    name = "files.read_secrets"
    tool = f"{before}files.read{after}_secrets" if inside else f"{before}{name}{after}"
    if tool == name:
        return
    decision = Gate(PADDED_POLICY).authorize(agent="a", tool=tool, args={})
    assert not decision.allowed, repr(tool)
