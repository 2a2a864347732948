"""The PostgreSQL backend against the real server named by ``ZTGATE_TEST_POSTGRES_URL``;
every test uses its own schema and drops it afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.integration.audit.helpers import decision
from ztgate.audit.backends import QueryFilter, open_backend
from ztgate.audit.backends.postgres import PostgresBackend
from ztgate.audit.checkpoint import Signer
from ztgate.audit.log import AuditLog
from ztgate.audit.shipper import Shipper
from ztgate.audit.sinks import JsonlFileSink
from ztgate.audit.verify import verify_backend
from ztgate.errors import AuditError

URL = os.environ.get("ZTGATE_TEST_POSTGRES_URL")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not URL, reason="ZTGATE_TEST_POSTGRES_URL is not set"),
]


@pytest.fixture
def pg_url() -> Iterator[str]:
    assert URL is not None
    schema = f"ztgate_audit_test_{uuid.uuid4().hex[:12]}"
    separator = "&" if "?" in URL else "?"
    yield f"{URL}{separator}schema={schema}"
    with psycopg.connect(URL, autocommit=True) as db:
        db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.parametrize("durability", ["strict", "batched"])
def test_append_verify_reopen(pg_url: str, durability: str) -> None:
    signer = Signer.generate()
    log = AuditLog(open_backend(pg_url), signer, durability=durability, checkpoint_every=4,
                   checkpoint_interval=None)  # fmt: skip
    for i in range(10):
        log.append(decision(i))
    log.close()
    log = AuditLog(open_backend(pg_url), signer, checkpoint_interval=None)
    assert log.append(decision(10)).seq == 11
    log.close()
    backend = open_backend(pg_url)
    try:
        report = verify_backend(backend, [signer.public_key])
        assert report.ok, report.failure
        assert (report.records, report.sealed_seq) == (11, 11)
        rows = backend.query(QueryFilter(agent="agent-1", effect="deny"))
        assert [r.seq for r in rows] == [4, 10]
    finally:
        backend.close()


def test_tampering_is_caught(pg_url: str) -> None:
    signer = Signer.generate()
    log = AuditLog(open_backend(pg_url), signer, checkpoint_interval=None)
    for i in range(5):
        log.append(decision(i))
    log.close()
    backend = open_backend(pg_url)
    assert isinstance(backend, PostgresBackend)
    table = f'"{backend.schema}".audit_records'
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        backend._db.execute(f"UPDATE {table} SET effect = 'allow' WHERE seq = 3")
    backend._db.execute(f"ALTER TABLE {table} DISABLE TRIGGER audit_records_append_only")
    backend._db.execute(
        f"UPDATE {table} SET record = replace(record, 'req-2', 'req-X') WHERE seq = 3"
    )
    report = verify_backend(backend, [signer.public_key])
    backend.close()
    assert report.failure is not None
    assert (report.failure.kind, report.failure.seq) == ("modified", 3)


def test_shipper_cursor_in_postgres(pg_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    signer = Signer.generate()
    log = AuditLog(open_backend(pg_url), signer, checkpoint_interval=None)
    for i in range(3):
        log.append(decision(i))
    backend = open_backend(pg_url)
    shipper = Shipper(backend, JsonlFileSink(tmp_path / "out.jsonl"))
    assert shipper.drain() == 3
    log.append(decision(3))
    assert shipper.drain() == 1
    assert shipper.cursor == 4
    backend.close()
    log.close()


def test_one_writer_per_schema(pg_url: str) -> None:
    signer = Signer.generate()
    first = AuditLog(open_backend(pg_url), signer, checkpoint_interval=None)
    backend = open_backend(pg_url)
    with pytest.raises(AuditError, match="already open for writing"):
        AuditLog(backend, signer)
    backend.close()
    first.close()
    second = AuditLog(open_backend(pg_url), signer, checkpoint_interval=None)
    second.close()
