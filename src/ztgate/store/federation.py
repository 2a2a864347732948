"""Repository for trusted external issuers and their subject-to-agent mappings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, delete, insert, select
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from ztgate.errors import StoreError
from ztgate.store import _schema as s
from ztgate.store.records import FederationTrust, SubjectMapping

if TYPE_CHECKING:
    from ztgate.store.store import Store


def _trust(row: Row[Any]) -> FederationTrust:
    m = row._mapping
    return FederationTrust(
        issuer=m["issuer"],
        kind=m["kind"],
        audiences=tuple(m["audiences"]),
        algorithms=tuple(m["algorithms"]),
        created_at=m["created_at"],
        discovery_url=m["discovery_url"],
        jwks_uri=m["jwks_uri"],
    )


class FederationRepository:
    """Trusts are keyed by exact issuer string; mappings by (issuer, subject)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add_trust(self, trust: FederationTrust, conn: Connection | None = None) -> None:
        try:
            with self._store.transaction(conn) as c:
                c.execute(
                    insert(s.federation_trusts).values(
                        issuer=trust.issuer,
                        kind=trust.kind,
                        audiences=list(trust.audiences),
                        algorithms=list(trust.algorithms),
                        discovery_url=trust.discovery_url,
                        jwks_uri=trust.jwks_uri,
                        created_at=trust.created_at,
                    )
                )
                self._store.bump_revision(c)
        except StoreError as error:
            if isinstance(error.__cause__, SAIntegrityError):
                raise StoreError(f"issuer `{trust.issuer}` is already trusted") from error
            raise

    def remove_trust(self, issuer: str, conn: Connection | None = None) -> bool:
        with self._store.transaction(conn) as c:
            result = c.execute(
                delete(s.federation_trusts).where(s.federation_trusts.c.issuer == issuer)
            )
            c.execute(delete(s.subject_mappings).where(s.subject_mappings.c.issuer == issuer))
            self._store.bump_revision(c)
        return result.rowcount == 1

    def get_trust(self, issuer: str, conn: Connection | None = None) -> FederationTrust | None:
        with self._store.transaction(conn) as c:
            row = c.execute(
                select(s.federation_trusts).where(s.federation_trusts.c.issuer == issuer)
            ).first()
        return _trust(row) if row is not None else None

    def list_trusts(self, conn: Connection | None = None) -> list[FederationTrust]:
        with self._store.transaction(conn) as c:
            rows = c.execute(select(s.federation_trusts).order_by(s.federation_trusts.c.issuer))
            return [_trust(r) for r in rows]

    def map_subject(self, mapping: SubjectMapping, conn: Connection | None = None) -> None:
        try:
            with self._store.transaction(conn) as c:
                c.execute(
                    insert(s.subject_mappings).values(
                        issuer=mapping.issuer,
                        subject=mapping.subject,
                        agent_id=mapping.agent_id,
                        created_at=mapping.created_at,
                    )
                )
                self._store.bump_revision(c)
        except StoreError as error:
            if isinstance(error.__cause__, SAIntegrityError):
                raise StoreError(
                    f"subject `{mapping.subject}` of `{mapping.issuer}` is already mapped"
                ) from error
            raise

    def agent_for(self, issuer: str, subject: str, conn: Connection | None = None) -> str | None:
        with self._store.transaction(conn) as c:
            return c.execute(
                select(s.subject_mappings.c.agent_id).where(
                    s.subject_mappings.c.issuer == issuer, s.subject_mappings.c.subject == subject
                )
            ).scalar_one_or_none()
