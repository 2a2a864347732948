"""``Gate``: the in-process entry point. ``gate.authorize(...)`` answers one question
before an agent acts: may this agent call this tool, with these arguments, now?

``Gate`` reads the clock and files (the core never does), keeps grants, session labels and
quota counters in memory, and turns every failure into a deny.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ztgate.audit import AuditLog
from ztgate.core.models import Context, Decision, Grant, Request
from ztgate.core.policy import CompiledPolicy, Explanation, explain, load_policy
from ztgate.core.policy.ast import Tier
from ztgate.errors import UsageError
from ztgate.service.memory import MemoryState, new_id
from ztgate.service.pipeline import OutputOutcome, Pipeline, context_from, utc_now
from ztgate.service.remote import RemoteClient
from ztgate.service.scan import NO_SCANNER, Scanner
from ztgate.service.tooling import guard_tool

MAX_GRANT_TTL = timedelta(hours=24)
__all__ = ["MAX_GRANT_TTL", "Gate", "context_from", "read_policy_file", "utc_now"]

_NO_LABELS: frozenset[str] = frozenset()
_EMPTY_ARGS: Mapping[str, Any] = MappingProxyType({})


def read_policy_file(path: str | Path) -> CompiledPolicy:
    """Read and compile a policy file (YAML or JSON)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read policy file `{file}`: {error}") from None
    return load_policy(text, str(file))


class Gate:
    """Pre-action authorization for agents, in process.

    >>> gate = Gate.from_file("examples/bench-finance/policy.yaml")
    >>> gate.authorize(agent="fin-1", tool="payment.send",
    ...                args={"amount": 50, "recipient": "vendor-a"}).allowed
    True

    A ``Gate`` without a policy denies everything. Replacing the policy (:meth:`load`,
    :meth:`reload`) swaps one compiled object atomically: a decision in flight finishes
    under the policy it started with.

    Local mode runs :class:`~ztgate.service.pipeline.Pipeline` in process (optionally with
    a scanner and an audit log); client mode (:meth:`connect`) asks a ``ztgate serve``
    control plane the same questions. ``@gate.tool(...)`` guards a Python function.
    """

    def __init__(
        self,
        policy: CompiledPolicy | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        state: MemoryState | None = None,
        scanner: Scanner = NO_SCANNER,
        audit: AuditLog | None = None,
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._state = state if state is not None else MemoryState()
        self._source: Path | None = None
        self._reload_lock = threading.Lock()
        self._remote: RemoteClient | None = None
        self._token: str | None = None
        self.pipeline = Pipeline(
            state=self._state,
            policy=lambda: self._policy,
            clock=clock,
            scanner=scanner,
            audit=audit,
        )

    @classmethod
    def connect(
        cls,
        base_url: str,
        *,
        token: str | None = None,
        admin_key: str | None = None,
        scanner: Scanner = NO_SCANNER,
        timeout: float = 2.0,
        transport: Any = None,
    ) -> Gate:
        """Client mode: decisions come from the control plane at ``base_url``.

        ``token`` (the agent's access token) is sent with every decision so identity and
        policy are checked in one call; ``admin_key`` enables :meth:`grant`,
        :meth:`release` and :meth:`label_session`; ``scanner`` scans tool outputs locally.
        """
        gate = cls(scanner=scanner)
        gate._remote = RemoteClient(
            base_url, admin_key=admin_key, timeout=timeout, transport=transport
        )
        gate._token = token
        return gate

    def close(self) -> None:
        if self._remote is not None:
            self._remote.close()

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
        if self._remote is not None:
            return self._remote.authorize(
                agent=agent,
                tool=tool,
                args=args,
                session=session,
                context=context,
                server=server,
                token=self._token,
            )
        return self.pipeline.authorize_local(
            agent, tool, args if args is not None else _EMPTY_ARGS, session, server, context, now
        )

    def inspect_output(
        self, *, agent: str, tool: str, output: Any, session: str | None = None
    ) -> OutputOutcome:
        """Scan a tool's output (labels the session); see :meth:`Pipeline.inspect_output`."""
        outcome = self.pipeline.inspect_output(
            agent=agent, tool=tool, output=output, session=session
        )
        if self._remote is not None and outcome.labels_added and session is not None:
            self._remote.label_session(session, outcome.labels_added)
        return outcome

    def tool(
        self,
        name: str | None = None,
        *,
        agent: str | Callable[[], str],
        session: str | Callable[[], str | None] | None = None,
        server: str | None = None,
        context: Context | Mapping[str, Any] | None = None,
        scan_output: bool = True,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorate a function so every call is authorized (and its output scanned).

        A refused call raises :class:`~ztgate.service.tooling.ToolDenied` (carrying the
        decision) without running the function.
        """
        return guard_tool(
            self,
            name=name,
            agent=agent,
            session=session,
            server=server,
            context=context,
            scan_output=scan_output,
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
        if self._remote is not None:
            raise UsageError("explain runs in local mode only")
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
        lifetime = ttl if isinstance(ttl, timedelta) else timedelta(seconds=ttl)
        if self._remote is not None:
            return self._remote.grant(
                agent=agent, permission=permission, justification=justification, ttl=lifetime
            )
        policy = self._policy
        if policy is None:
            raise UsageError("no policy is loaded")
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
        if self._remote is not None:
            self._remote.release(grant_id)
            return
        if self._state.remove_grant(grant_id) is None:
            raise UsageError(f"no grant `{grant_id}`")

    def label_session(self, session: str, *labels: str) -> None:
        """Add labels such as ``untrusted_content_seen`` to a session; labels never go away."""
        if self._remote is not None:
            self._remote.label_session(session, frozenset(labels))
            return
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
