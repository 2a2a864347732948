"""Table definitions, one ``MetaData`` for the whole store.

Adding an aggregate later (grants, sessions, counters, approvals) means: define its
``Table`` here against :data:`metadata`, then append a migration that creates it in
``_migrations.py``. Table names carry no prefix; isolation between deployments sharing one
PostgreSQL database is by schema (``open_store(url, schema=...)``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused by the store")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        parsed: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)


metadata = MetaData()

schema_versions = Table(
    "schema_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)

revisions = Table(
    "revisions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

blueprints = Table(
    "blueprints",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("display_name", String(400), nullable=False),
    Column("parent", String(200), nullable=True),
    Column("permissions", JSON, nullable=False),
    Column("policies", JSON, nullable=False),
    Column("credential_types", JSON, nullable=False),
    Column("conditions", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

agents = Table(
    "agents",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("display_name", String(400), nullable=False),
    Column("blueprint", String(200), nullable=True),
    Column("owners", JSON, nullable=False),
    Column("sponsors", JSON, nullable=False),
    Column("status", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=True),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("last_attested_at", UTCDateTime, nullable=True),
    Column("risk_level", String(32), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("conditions", JSON, nullable=False),
)

client_keys = Table(
    "client_keys",
    metadata,
    Column("agent_id", String(200), primary_key=True),
    Column("kid", String(200), primary_key=True),
    Column("public_jwk", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(200), primary_key=True),
    Column("alg", String(16), nullable=False),
    Column("private_pem", LargeBinary, nullable=False),
    Column("public_jwk", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("retired_at", UTCDateTime, nullable=True),
    Column("expires_at", UTCDateTime, nullable=True),
)

federation_trusts = Table(
    "federation_trusts",
    metadata,
    Column("issuer", String(1000), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("audiences", JSON, nullable=False),
    Column("algorithms", JSON, nullable=False),
    Column("discovery_url", String(2000), nullable=True),
    Column("jwks_uri", String(2000), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

subject_mappings = Table(
    "subject_mappings",
    metadata,
    Column("issuer", String(1000), primary_key=True),
    Column("subject", String(1000), primary_key=True),
    Column("agent_id", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

revocations = Table(
    "revocations",
    metadata,
    Column("jti", String(200), primary_key=True),
    Column("revoked_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("reason", Text, nullable=False),
)

used_assertions = Table(
    "used_assertions",
    metadata,
    Column("key", String(600), primary_key=True),
    Column("expires_at", UTCDateTime, nullable=False),
)

lifecycle_events = Table(
    "lifecycle_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("kind", String(100), nullable=False),
    Column("subject", String(1000), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(1000), nullable=True),
    Column("reason", String(200), nullable=True),
    Column("detail", JSON, nullable=False),
)


# -- service state (migration 2): grants, sessions, quota counters, approvals, policies,
# kill switches and admin keys.

grants = Table(
    "grants",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("agent", String(200), nullable=False, index=True),
    Column("permission", String(200), nullable=False),
    Column("justification", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("requested_by", String(200), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("ttl_seconds", Integer, nullable=False),
    Column("issued_at", UTCDateTime, nullable=True),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("decided_by", String(200), nullable=True),
    Column("decided_at", UTCDateTime, nullable=True),
)

session_labels = Table(
    "session_labels",
    metadata,
    Column("session", String(200), primary_key=True),
    Column("label", String(200), primary_key=True),
    Column("added_at", UTCDateTime, nullable=False),
)

quota_counters = Table(
    "quota_counters",
    metadata,
    Column("key", String(600), primary_key=True),
    Column("value", Float, nullable=False),
    Column("window_end", BigInteger, nullable=False, index=True),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("call_digest", String(64), nullable=False),
    Column("agent", String(200), nullable=False),
    Column("tool", String(400), nullable=False),
    Column("server", String(400), nullable=True),
    Column("session", String(200), nullable=True),
    Column("requested_by", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("decided_by", String(200), nullable=True),
    Column("decided_at", UTCDateTime, nullable=True),
    Column("consumed_at", UTCDateTime, nullable=True),
    Column("note", Text, nullable=True),
    Column("detail", JSON, nullable=False),
    Index("ix_approvals_digest_status", "call_digest", "status"),
)

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("digest", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("uploaded_by", String(200), nullable=False),
    Column("uploaded_at", UTCDateTime, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("activated_at", UTCDateTime, nullable=True),
    Column("comment", Text, nullable=False),
)

kill_switches = Table(
    "kill_switches",
    metadata,
    Column("scope", String(16), primary_key=True),
    Column("target", String(200), primary_key=True),
    Column("engaged_at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("reason", Text, nullable=False),
)

admin_keys = Table(
    "admin_keys",
    metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)
