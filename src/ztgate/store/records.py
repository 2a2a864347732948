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

    ``private_pem`` is the PKCS#8 private key; it never leaves the store except to sign.
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
