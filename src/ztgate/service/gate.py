"""``Gate``: the in-process entry point. ``gate.authorize(...)`` answers one question
before an agent acts: may this agent call this tool, with these arguments, now?

``Gate`` reads the clock and files (the core never does), keeps grants, session labels and
quota counters in memory, and turns every failure into a deny.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ztgate.core.models import (
    EMPTY_CONTEXT,
    Context,
    Decision,
    Effect,
    Grant,
    Reason,
    ReasonCode,
    Request,
)
from ztgate.core.policy import CompiledPolicy, Explanation, decide, explain, load_policy
from ztgate.core.policy.ast import Tier
from ztgate.core.policy.evaluate import no_policy_decision
from ztgate.errors import UsageError
from ztgate.service.memory import MemoryState, new_id

MAX_GRANT_TTL = timedelta(hours=24)
_NO_LABELS: frozenset[str] = frozenset()


def utc_now() -> datetime:
    return datetime.now(UTC)


def read_policy_file(path: str | Path) -> CompiledPolicy:
    """Read and compile a policy file (YAML or JSON)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read policy file `{file}`: {error}") from None
    return load_policy(text, str(file))


def context_from(value: Context | Mapping[str, Any] | None) -> Context:
    """Accept a :class:`Context` or a plain mapping with the same field names."""
    if value is None:
        return EMPTY_CONTEXT
    if isinstance(value, Context):
        return value
    if not isinstance(value, Mapping):
        raise TypeError("context must be a Context or a mapping")
    unknown = set(value) - {"source_ip", "acting_for", "delegation", "risk", "attributes"}
    if unknown:
        raise TypeError(f"unknown context keys: {sorted(unknown)}")
    return Context(
        source_ip=value.get("source_ip"),
        acting_for=value.get("acting_for"),
        delegation=tuple(value.get("delegation", ())),
        risk=value.get("risk"),
        attributes=value.get("attributes", {}),
    )


class Gate:
    """Pre-action authorization for agents, in process.

    >>> gate = Gate.from_file("examples/bench-finance/policy.yaml")
    >>> gate.authorize(agent="fin-1", tool="payment.send",
    ...                args={"amount": 50, "recipient": "vendor-a"}).allowed
    True

    A ``Gate`` without a policy denies everything. Replacing the policy (:meth:`load`,
    :meth:`reload`) swaps one compiled object atomically: a decision in flight finishes
    under the policy it started with.
    """

    def __init__(
        self,
        policy: CompiledPolicy | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        state: MemoryState | None = None,
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._state = state if state is not None else MemoryState()
        self._source: Path | None = None
        self._reload_lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> Gate:
        gate = cls(read_policy_file(path), **kwargs)
        gate._source = Path(path)
        return gate

    @classmethod
    def from_text(cls, text: str, file: str = "<policy>", **kwargs: Any) -> Gate:
        return cls(load_policy(text, file), **kwargs)

    # -- policy lifecycle ------------------------------------------------------------------

    @property
    def policy(self) -> CompiledPolicy | None:
        return self._policy

    @property
    def policy_version(self) -> str | None:
        policy = self._policy
        return policy.version if policy is not None else None

    def load(self, policy: CompiledPolicy | None) -> None:
        """Replace the active policy; ``None`` means deny everything."""
        self._policy = policy

    def reload(self) -> str:
        """Re-read the file this gate was created from; on any error keep the old policy."""
        if self._source is None:
            raise UsageError("this gate was not created from a file")
        with self._reload_lock:
            compiled = read_policy_file(self._source)
            self._policy = compiled
        return compiled.version

    # -- decisions -------------------------------------------------------------------------

    def authorize(
        self,
        *,
        agent: str,
        tool: str,
        args: Mapping[str, Any] | None = None,
        session: str | None = None,
        context: Context | Mapping[str, Any] | None = None,
        server: str | None = None,
        now: datetime | None = None,
    ) -> Decision:
        """Decide whether ``agent`` may call ``tool`` with ``args`` now. Never raises."""
        policy = self._policy
        if policy is None:
            return no_policy_decision()
        try:
            when = now if now is not None else self._clock()
            state = self._state
            labels = state.labels(session) if session is not None else _NO_LABELS
            ctx = context if type(context) is Context else context_from(context)
            decision = decide(
                policy,
                agent,
                tool,
                args,
                when,
                server,
                ctx,
                labels,
                state.grants_for(agent),
                state.usage,
            )
            if decision.charges and decision.effect is Effect.ALLOW:
                overflow = state.apply_charges(decision.charges)
                if overflow is not None:
                    return Decision(
                        Effect.DENY,
                        (
                            Reason(
                                ReasonCode.QUOTA_EXCEEDED,
                                f"quota `{overflow}` would be exceeded in this window",
                                overflow,
                            ),
                        ),
                        (overflow,),
                        policy.version,
                    )
            return decision
        except Exception as error:  # fail closed: a broken request or state denies
            return Decision(
                Effect.DENY,
                (
                    Reason(
                        ReasonCode.EVALUATION_ERROR,
                        f"the request could not be evaluated ({type(error).__name__}); denied",
                    ),
                ),
                (),
                policy.version,
            )

    def explain(
        self,
        *,
        agent: str,
        tool: str,
        args: Mapping[str, Any] | None = None,
        session: str | None = None,
        context: Context | Mapping[str, Any] | None = None,
        server: str | None = None,
        now: datetime | None = None,
    ) -> Explanation:
        """The decision plus why every candidate rule did or did not apply (no charges)."""
        policy = self._policy
        if policy is None:
            raise UsageError("no policy is loaded")
        when = now if now is not None else self._clock()
        request = Request(
            agent=agent,
            tool=tool,
            args=args or {},
            now=when,
            server=server,
            context=context_from(context),
            session_labels=self._state.labels(session) if session else _NO_LABELS,
            grants=self._state.grants_for(agent),
            usage=dict(self._state.usage),
        )
        return explain(policy, request)

    # -- grants and sessions ---------------------------------------------------------------

    def grant(
        self,
        *,
        agent: str,
        permission: str,
        justification: str,
        ttl: timedelta | float = timedelta(minutes=15),
        approved_by: str | None = None,
        now: datetime | None = None,
    ) -> Grant:
        """Grant ``agent`` a task or elevated permission of its blueprint for ``ttl``.

        Raises :class:`UsageError` when the permission does not exist for the agent, the
        justification is empty, the TTL is not between 0 and 24 hours, or an elevated
        permission lacks an approver other than the agent itself.
        """
        policy = self._policy
        if policy is None:
            raise UsageError("no policy is loaded")
        lifetime = ttl if isinstance(ttl, timedelta) else timedelta(seconds=ttl)
        if not timedelta(0) < lifetime <= MAX_GRANT_TTL:
            raise UsageError("grant lifetime must be more than 0 and at most 24 hours")
        if not justification.strip():
            raise UsageError("a grant needs a justification")
        tier = _permission_tier(policy, agent, permission)
        if tier is None:
            raise UsageError(f"agent `{agent}` has no task or elevated permission `{permission}`")
        if tier is Tier.ELEVATED and (not approved_by or approved_by == agent):
            raise UsageError(
                f"permission `{permission}` is elevated: it needs an approver other than the agent"
            )
        issued = now if now is not None else self._clock()
        grant = Grant(
            id=new_id("grant"),
            agent=agent,
            permission=permission,
            expires_at=issued + lifetime,
            justification=justification,
            issued_at=issued,
            approved_by=approved_by,
        )
        self._state.add_grant(grant)
        return grant

    def release(self, grant_id: str) -> None:
        """End a grant before it expires (the task is done)."""
        if self._state.remove_grant(grant_id) is None:
            raise UsageError(f"no grant `{grant_id}`")

    def label_session(self, session: str, *labels: str) -> None:
        """Add labels such as ``untrusted_content_seen`` to a session; labels never go away."""
        self._state.add_labels(session, frozenset(labels))

    def session_labels(self, session: str) -> frozenset[str]:
        return self._state.labels(session)


def _permission_tier(policy: CompiledPolicy, agent: str, permission: str) -> Tier | None:
    entry = policy.agents.get(agent)
    if entry is None:
        return None
    blueprints: Iterable[str] = entry.blueprints
    for name in blueprints:
        for perm in policy.document.blueprints[name].permissions:
            if perm.id == permission and perm.tier in (Tier.TASK, Tier.ELEVATED):
                return perm.tier
    return None
