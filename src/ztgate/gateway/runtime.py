"""Everything a running gateway holds: policy, audit log, pin store, registry, metrics.

Opened once at start-up from the configuration and shared by every session; ``close``
flushes the audit log and closes the stores.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ztgate.audit import AuditLog, open_log
from ztgate.gateway.authorizer import AgentStatusCache, GateAuthorizer
from ztgate.gateway.config import GatewayConfig
from ztgate.gateway.inspect import Inspector, read_guard_policy
from ztgate.gateway.metrics import Metrics
from ztgate.gateway.pins import PinStore
from ztgate.identity.conditions import check_standing
from ztgate.identity.registry import Registry
from ztgate.service.approvals import ApprovalService
from ztgate.service.gate import Gate
from ztgate.store import Store, open_store

log = logging.getLogger("ztgate.gateway")


@dataclass
class Runtime:
    config: GatewayConfig
    gate: Gate
    authorizer: GateAuthorizer
    pins: PinStore
    metrics: Metrics
    audit: AuditLog | None = None
    store: Store | None = None
    registry: Registry | None = None
    closers: list[object] = field(default_factory=list)

    def close(self) -> None:
        if self.audit is not None:
            self.audit.close()
        self.pins.close()
        if self.store is not None:
            self.store.close()


def _status_lookup(registry: Registry):  # type: ignore[no-untyped-def]
    def active(agent: str) -> bool:
        profile = registry.profile(agent)
        if profile is None:
            return False
        return check_standing(profile.agent, profile.conditions, datetime.now(UTC)) is None

    return active


def open_runtime(config: GatewayConfig, *, need_store: bool = False) -> Runtime:
    """Open the policy, pin store, audit log and (when configured) the identity store."""
    gate = Gate.from_file(config.policy)
    metrics = Metrics()
    pins = PinStore(config.pin_path, trust_on_first_use=config.trust_on_first_use)
    audit: AuditLog | None = None
    store: Store | None = None
    try:
        if config.audit_enabled:
            audit = open_log(
                config.data_dir, store=config.audit_store, durability=config.audit_durability
            )
        registry: Registry | None = None
        if config.identity.store is not None or need_store:
            store = open_store(config.identity.store or config.data_dir)
            registry = Registry(store)
        status = (
            AgentStatusCache(_status_lookup(registry))
            if registry is not None and config.identity.check_agent_status
            else None
        )
        scanning = config.scanning
        inspector = Inspector(
            read_guard_policy(scanning.guard_policy) if scanning.guard_policy else None,
            descriptions=scanning.descriptions,
            outputs=scanning.outputs,
            arguments=scanning.arguments,
        )
        authorizer = GateAuthorizer(
            gate,
            audit=audit,
            inspector=inspector,
            agent_status=status,
            metrics=metrics,
            approvals=ApprovalService(store) if store is not None else None,
        )
    except BaseException:
        pins.close()
        if audit is not None:
            audit.close()
        if store is not None:
            store.close()
        raise
    return Runtime(config, gate, authorizer, pins, metrics, audit, store, registry)
