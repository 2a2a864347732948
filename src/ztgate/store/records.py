"""Plain, frozen records the store reads and writes.

They carry no behaviour and no validation beyond their types: the registry in
``ztgate.identity`` decides what a valid agent is; the store only keeps what it is given.
Keeping them here (below identity) lets every capability share one persistence model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class AgentStatus(StrEnum):
    """Lifecycle of an agent. Only ``active`` agents authenticate or keep valid tokens."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    DISABLED = "disabled"
    DECOMMISSIONED = "decommissioned"


class CredentialType(StrEnum):
    """How an agent may prove who it is. There is no client secret type on purpose."""

    PRIVATE_KEY_JWT = "private_key_jwt"
    FEDERATED = "federated"


@dataclass(frozen=True, slots=True)
class Agent:
    """One registered agent identity."""

    id: str
    display_name: str
    blueprint: str | None
    owners: tuple[str, ...]
    sponsors: tuple[str, ...]
    status: AgentStatus
    created_at: datetime
    expires_at: datetime | None
    last_attested_at: datetime | None
    risk_level: str
    tags: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    conditions: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Blueprint:
    """A template agents are created from; children inherit permissions and policies."""

    id: str
    display_name: str
    parent: str | None
    permissions: tuple[str, ...]
    policies: tuple[str, ...]
    credential_types: tuple[CredentialType, ...]
    created_at: datetime
    conditions: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class ClientKey:
    """A public key an agent signs its client assertions with (only the public JWK)."""

    agent_id: str
    kid: str
    public_jwk: Mapping[str, Any]
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A key ztgate signs access tokens with.

    ``private_pem`` is the PKCS#8 private key as stored: sealed (``ztgate-sealed-v1:...``)
    when a key-encryption key is configured; it never leaves the store except to sign.
    ``retired_at`` set means the key no longer signs but stays in the JWKS until
    ``expires_at`` so tokens it signed still verify.
    """

    kid: str
    alg: str
    private_pem: bytes
    public_jwk: Mapping[str, Any]
    created_at: datetime
    retired_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FederationTrust:
    """A trusted external token issuer (OIDC discovery + JWKS).

    ``kind`` is ``workload`` (its tokens authenticate agents, mapped by subject) or
    ``user`` (its tokens are subject tokens in a token exchange).
    """

    issuer: str
    kind: str
    audiences: tuple[str, ...]
    algorithms: tuple[str, ...]
    created_at: datetime
    discovery_url: str | None = None
    jwks_uri: str | None = None


@dataclass(frozen=True, slots=True)
class SubjectMapping:
    """Maps an external issuer's subject to a registered agent."""

    issuer: str
    subject: str
    agent_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Revocation:
    """A revoked token id; kept until the token would have expired anyway."""

    jti: str
    revoked_at: datetime
    expires_at: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """An audit-worthy change or refusal (agent created, key rotated, token denied...)."""

    kind: str
    subject: str
    at: datetime
    actor: str | None = None
    reason: str | None = None
    detail: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    id: int | None = None


class GrantStatus(StrEnum):
    """``pending`` grants wait for a human (elevated permissions); only ``active`` count."""

    PENDING = "pending"
    ACTIVE = "active"
    DENIED = "denied"
    RELEASED = "released"


@dataclass(frozen=True, slots=True)
class GrantRecord:
    """A requested or issued grant. ``issued_at``/``expires_at`` are set once active."""

    id: str
    agent: str
    permission: str
    justification: str
    status: GrantStatus
    requested_by: str
    requested_at: datetime
    ttl_seconds: int
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None


class ApprovalStatus(StrEnum):
    """An approval is decided once; an approved one is consumed by exactly one call."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    CONSUMED = "consumed"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    """A request for a human decision on one exact call (``call_digest``)."""

    id: str
    call_digest: str
    agent: str
    tool: str
    server: str | None
    session: str | None
    requested_by: str
    status: ApprovalStatus
    created_at: datetime
    expires_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    consumed_at: datetime | None = None
    note: str | None = None
    detail: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """One uploaded policy text; at most one version is active."""

    number: int
    digest: str
    text: str
    uploaded_by: str
    uploaded_at: datetime
    active: bool
    comment: str = ""
    activated_at: datetime | None = None


class KillScope(StrEnum):
    AGENT = "agent"
    BLUEPRINT = "blueprint"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class KillSwitch:
    """An engaged kill switch: every decision for agents in its scope is denied."""

    scope: KillScope
    target: str
    engaged_at: datetime
    actor: str
    reason: str


class AdminRole(StrEnum):
    """Roles of the admin API, strongest first."""

    ADMIN = "admin"
    APPROVER = "approver"
    AUDITOR = "auditor"
    VIEWER = "viewer"


@dataclass(frozen=True, slots=True)
class AdminKey:
    """An admin API credential; only the SHA-256 of the random key is stored."""

    key_hash: str
    name: str
    role: AdminRole
    created_at: datetime
    revoked_at: datetime | None = None
