"""Persistent store shared by every capability: SQLite by default, PostgreSQL by URL.

Public surface: :func:`open_store`, :class:`Store` (repositories as attributes), the
records in :mod:`ztgate.store.records` and the :class:`EventSink` protocol.
"""

from ztgate.store.events import EventSink, StoreEventSink
from ztgate.store.records import (
    AdminKey,
    AdminRole,
    Agent,
    AgentStatus,
    ApprovalRecord,
    ApprovalStatus,
    Blueprint,
    ClientKey,
    CredentialType,
    FederationTrust,
    GrantRecord,
    GrantStatus,
    KillScope,
    KillSwitch,
    LifecycleEvent,
    PolicyVersion,
    Revocation,
    SigningKey,
    SubjectMapping,
)
from ztgate.store.store import DEFAULT_DATA_DIR, Store, open_store

__all__ = [
    "DEFAULT_DATA_DIR",
    "AdminKey",
    "AdminRole",
    "Agent",
    "AgentStatus",
    "ApprovalRecord",
    "ApprovalStatus",
    "Blueprint",
    "ClientKey",
    "CredentialType",
    "EventSink",
    "FederationTrust",
    "GrantRecord",
    "GrantStatus",
    "KillScope",
    "KillSwitch",
    "LifecycleEvent",
    "PolicyVersion",
    "Revocation",
    "SigningKey",
    "Store",
    "StoreEventSink",
    "SubjectMapping",
    "open_store",
]
