"""The bench-finance workload: its meaning as plain Python, and a seeded request mix.

Every engine in the benchmark is judged against :func:`reference`, so the reference is
written for a reader, not for speed: it spells out the exact semantics of
``examples/bench-finance/policy.yaml`` and nothing else.

The request mix covers each way a naive engine can get a payment wrong (type confusion
on ``amount``, near-miss recipients, unknown agents, the forbidden tool). Each request
carries its category so that disagreements can be reported per category.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

POLICY_PATH = "examples/bench-finance/policy.yaml"

AGENT_BLUEPRINTS: Mapping[str, str] = {
    "fin-1": "finance-bot",
    "fin-2": "finance-bot",
    "sup-1": "support-bot",
}
FINANCE_AGENTS = ("fin-1", "fin-2")
KNOWN_AGENTS = ("fin-1", "fin-2", "sup-1")
UNKNOWN_AGENTS = ("intruder", "fin-3", "FIN-1", "fin-1 ", "")
RECIPIENTS = ("vendor-a", "vendor-b")
AMOUNT_CAP = 100
PAYMENT_TOOL = "payment.send"
FORBIDDEN_TOOL = "shell.exec"
OTHER_TOOLS = ("email.send", "fs.read", "payment.refund", "payment")

DEFAULT_SEED = 20_251_122
DEFAULT_COUNT = 20_000


def reference(agent: str, tool: str, args: Mapping[str, Any]) -> bool:
    """Whether the bench-finance policy allows ``agent`` to call ``tool`` with ``args``.

    - ``shell.exec`` is forbidden for everybody, whatever else holds;
    - only agents of blueprint ``finance-bot`` may call ``payment.send``;
    - ``amount`` must be a Python ``int`` (not ``bool``, not ``float``) no greater than
      100 (there is no lower bound: ``-5`` is an integer <= 100);
    - ``recipient`` must be the string ``vendor-a`` or ``vendor-b``;
    - everything else, and every agent not listed, is denied.
    """
    if tool == FORBIDDEN_TOOL:
        return False
    if AGENT_BLUEPRINTS.get(agent) != "finance-bot":
        return False
    if tool != PAYMENT_TOOL:
        return False
    amount = args.get("amount")
    # type() rather than isinstance(): bool is a subclass of int and must not pass.
    if type(amount) is not int or amount > AMOUNT_CAP:
        return False
    recipient = args.get("recipient")
    return type(recipient) is str and recipient in RECIPIENTS


@dataclass(frozen=True, slots=True)
class BenchRequest:
    """One generated request, the category it was drawn from and the reference answer."""

    category: str
    agent: str
    tool: str
    args: Mapping[str, Any]
    expected: bool


_Maker = Callable[[random.Random], tuple[str, str, dict[str, Any]]]


def _fin(rng: random.Random) -> str:
    return rng.choice(FINANCE_AGENTS)


def _recipient(rng: random.Random) -> str:
    return rng.choice(RECIPIENTS)


def _payment(rng: random.Random, amount: Any) -> tuple[str, str, dict[str, Any]]:
    return _fin(rng), PAYMENT_TOOL, {"amount": amount, "recipient": _recipient(rng)}


def _allowed_payment(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    return _payment(rng, rng.randint(0, AMOUNT_CAP))


def _amount_over_cap(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    return _payment(rng, rng.choice((101, 102, rng.randint(101, 1_000_000))))


def _amount_missing(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    return _fin(rng), PAYMENT_TOOL, {"recipient": _recipient(rng)}


def _amount_none(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    return _payment(rng, None)


def _amount_string(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    return _payment(rng, rng.choice(("50", "1", "100", "0")))


def _amount_bool(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    return _payment(rng, rng.choice((True, False)))


def _amount_nan(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    return _payment(rng, math.nan)


def _amount_inf(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    # -inf is the sharper case: a float-tolerant `amount <= 100` lets it through.
    return _payment(rng, rng.choice((math.inf, -math.inf)))


def _amount_huge_int(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    return _payment(rng, rng.choice((10**30, 2**63, 2**64 + 1, 10**100)))


def _amount_negative(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    # Allowed: the policy states a maximum only, and a negative integer is <= 100.
    return _payment(rng, rng.randint(-1000, -1))


def _amount_float(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    # Integral floats are the interesting ones: numerically in range, but not integers.
    return _payment(rng, rng.choice((50.0, 1.0, 100.0, 0.0, 99.5)))


def _wrong_recipient(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    args: dict[str, Any] = {"amount": rng.randint(0, AMOUNT_CAP)}
    choice = rng.randrange(8)
    if choice < 6:
        args["recipient"] = ("vendor-c", "Vendor-A", "vendor-a ", "", "vendor", "vendor-ab")[choice]
    elif choice == 6:
        args["recipient"] = None
    # choice == 7: recipient missing
    return _fin(rng), PAYMENT_TOOL, args


def _shell_exec(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    agent = rng.choice((*KNOWN_AGENTS, "intruder"))
    # Some carry a perfectly valid payment body: the forbid must win regardless.
    args: dict[str, Any] = rng.choice(({"cmd": "ls"}, {}, {"amount": 5, "recipient": "vendor-a"}))
    return agent, FORBIDDEN_TOOL, dict(args)


def _unknown_agent(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    return (
        rng.choice(UNKNOWN_AGENTS),
        PAYMENT_TOOL,
        {"amount": rng.randint(0, AMOUNT_CAP), "recipient": _recipient(rng)},
    )


def _support_paying(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    return "sup-1", PAYMENT_TOOL, {"amount": rng.randint(0, AMOUNT_CAP), "recipient": "vendor-a"}


def _other_tool(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    agent = rng.choice(KNOWN_AGENTS)
    tool = rng.choice(OTHER_TOOLS)
    args: dict[str, Any] = rng.choice(
        ({"to": "a@example.com"}, {"path": "/data/x"}, {"amount": 5, "recipient": "vendor-a"})
    )
    return agent, tool, dict(args)


# Category name -> (weight, maker). Allowed payments are a quarter of the mix so the
# allow path is measured as much as the deny paths.
CATEGORIES: Mapping[str, tuple[int, _Maker]] = {
    "allowed_payment": (25, _allowed_payment),
    "amount_over_cap": (6, _amount_over_cap),
    "amount_missing": (5, _amount_missing),
    "amount_none": (4, _amount_none),
    "amount_string": (4, _amount_string),
    "amount_bool": (4, _amount_bool),
    "amount_nan": (3, _amount_nan),
    "amount_inf": (3, _amount_inf),
    "amount_huge_int": (4, _amount_huge_int),
    "amount_negative": (4, _amount_negative),
    "amount_float": (5, _amount_float),
    "wrong_recipient": (6, _wrong_recipient),
    "shell_exec": (8, _shell_exec),
    "unknown_agent": (6, _unknown_agent),
    "support_paying": (5, _support_paying),
    "other_tool": (8, _other_tool),
}


def generate(count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED) -> list[BenchRequest]:
    """``count`` requests drawn from :data:`CATEGORIES` with a private, seeded RNG.

    The first ``len(CATEGORIES)`` requests take one of each category in turn, so even a
    tiny sample covers every category; the rest follow the weights.
    """
    rng = random.Random(seed)
    names = list(CATEGORIES)
    weights = [CATEGORIES[name][0] for name in names]
    out: list[BenchRequest] = []
    for i in range(count):
        name = names[i] if i < len(names) else rng.choices(names, weights)[0]
        agent, tool, args = CATEGORIES[name][1](rng)
        out.append(BenchRequest(name, agent, tool, args, reference(agent, tool, args)))
    return out
