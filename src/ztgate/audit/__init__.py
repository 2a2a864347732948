"""Tamper-evident audit log: hash-chained, Merkle-rooted, signed, durable, exportable.

Public surface (stable): :class:`AuditLog`, :class:`DecisionEvent`,
:class:`LifecycleEvent`, :class:`LifecycleKind`, :class:`RedactionPolicy`,
:class:`Receipt`, :func:`open_log`, :func:`verify_backend`, :func:`verify_export`.
See ``docs/audit.md`` for the record format, canonical encoding and verification.
"""

from __future__ import annotations

from ztgate.audit.chain import Receipt
from ztgate.audit.config import open_log
from ztgate.audit.events import DecisionEvent, LifecycleEvent, LifecycleKind
from ztgate.audit.log import AuditLog
from ztgate.audit.redact import RedactionPolicy
from ztgate.audit.verify import Report, verify_backend, verify_export

__all__ = [
    "AuditLog",
    "DecisionEvent",
    "LifecycleEvent",
    "LifecycleKind",
    "Receipt",
    "RedactionPolicy",
    "Report",
    "open_log",
    "verify_backend",
    "verify_export",
]
