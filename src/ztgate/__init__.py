"""ztgate: a Zero Trust control plane and enforcement point for AI agents.

The in-process entry point is :class:`Gate`::

    from ztgate import Gate
    gate = Gate.from_file("policy.yaml")
    decision = gate.authorize(agent="fin-1", tool="payment.send", args={"amount": 50})
    if not decision.allowed:
        ...
"""

from __future__ import annotations

from ztgate._version import __version__
from ztgate.core.models import Context, Decision, Effect, Grant, Reason, ReasonCode
from ztgate.service.gate import Gate

__all__ = [
    "Context",
    "Decision",
    "Effect",
    "Gate",
    "Grant",
    "Reason",
    "ReasonCode",
    "__version__",
]
