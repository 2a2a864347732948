"""The control plane: one object that composes the store, identity, audit, the decision
state and the pipeline, and carries out the operator actions of the admin API.

Every operator action is checked here (not in the HTTP layer), is recorded as a lifecycle
event in the audit log with the acting human, and bumps the store revision that makes
every replica's cache drop what changed.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from ztgate.audit import AuditLog, LifecycleKind, open_log
from ztgate.core.policy import CompiledPolicy, load_policy
from ztgate.errors import UsageError
from ztgate.identity import AuthorizationServer, Registry, TokenSettings, TokenVerifier
from ztgate.identity.signing import SigningKeys
from ztgate.service.approvals import ApprovalService, Notifier
from ztgate.service.grants import GrantService
from ztgate.service.pipeline import Listener, Pipeline, utc_now
from ztgate.service.scan import NO_SCANNER, Scanner
from ztgate.service.state import StoreState
from ztgate.store import (
    AdminKey,
    AdminRole,
    ApprovalRecord,
    GrantRecord,
    KillScope,
    KillSwitch,
    PolicyVersion,
    Store,
    open_store,
)


class ChangeFeed(Protocol):
    """Cross-replica "something changed" notices (see :mod:`ztgate.service.changes`)."""

    def publish(self, area: str) -> None: ...

    def subscribe(self, on_change: Callable[[str], None]) -> None: ...

    def close(self) -> None: ...


ADMIN_KEY_PREFIX = "ztadm_"


def hash_admin_key(key: str) -> str:
    """Admin keys are 256-bit random strings, so a plain SHA-256 is a safe lookup key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ControlPlane:
    """Everything ``ztgate serve`` and the embedded demo run, over one store."""

    def __init__(
        self,
        store: Store,
        *,
        audit: AuditLog | None = None,
        settings: TokenSettings | None = None,
        fallback_policy: CompiledPolicy | None = None,
        scanner: Scanner = NO_SCANNER,
        clock: Callable[[], datetime] = utc_now,
        staleness: float = 0.25,
        approval_timeout: timedelta = timedelta(minutes=15),
        notifiers: tuple[Notifier, ...] = (),
        require_token: bool = False,
        listeners: tuple[Listener, ...] = (),
        change_feed: ChangeFeed | None = None,
    ) -> None:
        self.store = store
        self.change_feed = change_feed
        self.audit = audit
        self.clock = clock
        self.registry = Registry(store, clock=clock)
        self.state = StoreState(
            store, self.registry, staleness=staleness, fallback_policy=fallback_policy
        )
        self.oauth: AuthorizationServer | None = None
        verifier: TokenVerifier | None = None
        if settings is not None:
            keys = SigningKeys(store)
            verifier = TokenVerifier(settings, self.registry, keys)
            self.oauth = AuthorizationServer(settings, self.registry, keys=keys, verifier=verifier)
        self.approvals = ApprovalService(store, timeout=approval_timeout, notifiers=notifiers)
        self.grants = GrantService(store)
        self.pipeline = Pipeline(
            state=self.state,
            policy=self.state.policy,
            standing=self.state.standing,
            verifier=verifier,
            scanner=scanner,
            audit=audit,
            approvals=self.approvals,
            clock=clock,
            require_token=require_token,
            listeners=listeners,
        )

        if change_feed is not None:
            change_feed.subscribe(lambda _area: self.state.invalidate())

    def _changed(self, area: str) -> None:
        """Drop this replica's cache now and tell the others (they poll anyway)."""
        self.state.invalidate()
        if self.change_feed is not None:
            self.change_feed.publish(area)

    @classmethod
    def open(
        cls,
        data_dir: str | Path = ".ztgate",
        *,
        store_url: str | None = None,
        schema: str | None = None,
        audit: bool = True,
        **kwargs: Any,
    ) -> ControlPlane:
        """Open the store (SQLite in ``data_dir`` unless ``store_url``) and the audit log."""
        directory = Path(data_dir)
        store = open_store(store_url or directory, schema=schema)
        log = None
        if audit:
            log = open_log(directory, store=_audit_url(store_url, schema), durability="batched")
        return cls(store, audit=log, **kwargs)

    def close(self) -> None:
        if self.change_feed is not None:
            self.change_feed.close()
        if self.audit is not None:
            self.audit.close()
        self.store.close()

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _lifecycle(self, kind: LifecycleKind, actor: str, subject: str, **details: Any) -> None:
        if self.audit is not None:
            self.audit.record_lifecycle(kind, actor=actor, subject=subject, details=details)

    # -- policies --------------------------------------------------------------------------

    def upload_policy(self, text: str, *, actor: str, comment: str = "") -> PolicyVersion:
        """Validate and store a new policy version (not yet active)."""
        compiled = load_policy(text, "<upload>")
        return self.store.policies.add(
            text, digest=compiled.version, uploaded_by=actor, now=self.clock(), comment=comment
        )

    def activate_policy(self, number: int, *, actor: str) -> PolicyVersion:
        version = self.store.policies.get(number)
        if version is None:
            raise UsageError(f"no policy version `{number}`")
        load_policy(version.text, f"policy-v{number}")  # never activate what cannot load
        self.store.policies.activate(number, self.clock())
        self._lifecycle(
            LifecycleKind.POLICY_ACTIVATED, actor, f"policy:{number}", digest=version.digest
        )
        self._changed("service")
        active = self.store.policies.get(number)
        assert active is not None
        return active

    def rollback_policy(self, *, actor: str) -> PolicyVersion:
        """Activate the newest version older than the active one."""
        active = self.store.policies.active()
        if active is None:
            raise UsageError("no policy version is active")
        older = [v for v in self.store.policies.list() if v.number < active.number]
        if not older:
            raise UsageError("there is no older policy version to roll back to")
        return self.activate_policy(older[-1].number, actor=actor)

    # -- kill switch -----------------------------------------------------------------------

    def kill(self, scope: KillScope, target: str, *, actor: str, reason: str) -> KillSwitch:
        """Deny every decision for one agent, a blueprint, or all agents (``target="*"``)."""
        if scope is KillScope.ALL:
            target = "*"
        elif scope is KillScope.AGENT and self.store.agents.get(target) is None:
            raise UsageError(f"no agent `{target}`")
        elif scope is KillScope.BLUEPRINT and self.store.blueprints.get(target) is None:
            raise UsageError(f"no blueprint `{target}`")
        switch = KillSwitch(scope, target, self.clock(), actor, reason)
        self.store.kill_switches.engage(switch)
        self._lifecycle(
            LifecycleKind.KILL_SWITCH, actor, f"{scope.value}:{target}", engaged=True, reason=reason
        )
        self._changed("service")
        return switch

    def release_kill(self, scope: KillScope, target: str, *, actor: str) -> bool:
        target = "*" if scope is KillScope.ALL else target
        released = self.store.kill_switches.release(scope, target)
        if released:
            self._lifecycle(
                LifecycleKind.KILL_SWITCH, actor, f"{scope.value}:{target}", engaged=False
            )
        self._changed("service")
        return released

    def suspend_agent(self, agent_id: str, *, actor: str, reason: str | None = None) -> None:
        self.registry.suspend(agent_id, reason=reason, actor=actor)
        self._lifecycle(LifecycleKind.AGENT_SUSPENDED, actor, agent_id, reason=reason)
        self._changed("service")

    def resume_agent(self, agent_id: str, *, actor: str) -> None:
        self.registry.resume(agent_id, actor=actor)
        self._lifecycle(LifecycleKind.AGENT_RESUMED, actor, agent_id)
        self._changed("service")

    # -- approvals -------------------------------------------------------------------------

    def approve(
        self, approval_id: str, *, approver: str, note: str | None = None
    ) -> ApprovalRecord:
        record = self.approvals.approve(approval_id, approver=approver, now=self.clock(), note=note)
        self._lifecycle(
            LifecycleKind.APPROVAL_DECIDED, approver, approval_id, status=record.status.value
        )
        return record

    def deny(self, approval_id: str, *, approver: str, note: str | None = None) -> ApprovalRecord:
        record = self.approvals.deny(approval_id, approver=approver, now=self.clock(), note=note)
        self._lifecycle(
            LifecycleKind.APPROVAL_DECIDED, approver, approval_id, status=record.status.value
        )
        return record

    # -- grants ----------------------------------------------------------------------------

    def request_grant(
        self,
        *,
        agent: str,
        permission: str,
        justification: str,
        ttl: timedelta,
        requested_by: str,
    ) -> GrantRecord:
        record = self.grants.request(
            self.state.policy(),
            agent=agent,
            permission=permission,
            justification=justification,
            ttl=ttl,
            requested_by=requested_by,
            now=self.clock(),
        )
        self._lifecycle(
            LifecycleKind.GRANT_REQUESTED,
            requested_by,
            record.id,
            agent=agent,
            permission=permission,
            status=record.status.value,
            justification=justification,
        )
        self._changed("service")
        return record

    def approve_grant(self, grant_id: str, *, approver: str) -> GrantRecord:
        record = self.grants.approve(grant_id, approver=approver, now=self.clock())
        self._lifecycle(LifecycleKind.GRANT_APPROVED, approver, grant_id, agent=record.agent)
        self._changed("service")
        return record

    def deny_grant(self, grant_id: str, *, approver: str) -> GrantRecord:
        record = self.grants.deny(grant_id, approver=approver, now=self.clock())
        self._lifecycle(LifecycleKind.GRANT_DENIED, approver, grant_id, agent=record.agent)
        self._changed("service")
        return record

    def release_grant(self, grant_id: str, *, actor: str) -> GrantRecord:
        record = self.grants.release(grant_id, now=self.clock())
        self._lifecycle(LifecycleKind.GRANT_RELEASED, actor, grant_id, agent=record.agent)
        self._changed("service")
        return record

    # -- admin credentials -----------------------------------------------------------------

    def create_admin_key(self, name: str, role: AdminRole) -> str:
        """Create an admin API key; the key is returned once and only its hash is kept."""
        if not name.strip():
            raise UsageError("an admin key needs a name")
        key = ADMIN_KEY_PREFIX + secrets.token_urlsafe(32)
        self.store.admin_keys.add(AdminKey(hash_admin_key(key), name, role, self.clock()))
        return key

    def authenticate_admin(self, unverified_key: str) -> AdminKey | None:
        if not unverified_key.startswith(ADMIN_KEY_PREFIX) or len(unverified_key) > 200:
            return None
        record = self.store.admin_keys.by_hash(hash_admin_key(unverified_key))
        if record is None or record.revoked_at is not None:
            return None
        return record


def _audit_url(store_url: str | None, schema: str | None) -> str | None:
    """The audit log shares a PostgreSQL store's database; SQLite keeps its own file."""
    if store_url is None or "://" not in store_url or schema is not None:
        return None
    return store_url
