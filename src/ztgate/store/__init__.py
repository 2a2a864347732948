"""Persistent store shared by every capability: SQLite by default, PostgreSQL by URL.

Public surface: :func:`open_store`, :class:`Store` (repositories as attributes), the
records in :mod:`ztgate.store.records` and the :class:`EventSink` protocol.
"""

from ztgate.store.events import EventSink, StoreEventSink
from ztgate.store.records import (
    Agent,
    AgentStatus,
    Blueprint,
    ClientKey,
    CredentialType,
    FederationTrust,
    LifecycleEvent,
    Revocation,
    SigningKey,
    SubjectMapping,
)
from ztgate.store.store import DEFAULT_DATA_DIR, Store, open_store

__all__ = [
    "DEFAULT_DATA_DIR",
    "Agent",
    "AgentStatus",
    "Blueprint",
    "ClientKey",
    "CredentialType",
    "EventSink",
    "FederationTrust",
    "LifecycleEvent",
    "Revocation",
    "SigningKey",
    "Store",
    "StoreEventSink",
    "SubjectMapping",
    "open_store",
]
