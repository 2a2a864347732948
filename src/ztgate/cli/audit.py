"""``ztgate audit``: verify, tail, query and export the tamper-evident audit log."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Annotated

import typer

from ztgate.audit.backends import Backend, QueryFilter, open_backend
from ztgate.audit.chain import StoredRecord, time_us
from ztgate.audit.checkpoint import load_public_key, read_checkpoints_file
from ztgate.audit.config import (
    DB_FILE,
    DEFAULT_DATA_DIR,
    KEY_FILE,
    PUBLIC_KEY_FILE,
    open_log,
    public_keys_for,
    rotate_signing_key,
    signer_for,
    store_url,
)
from ztgate.audit.events import parse_time
from ztgate.audit.ocsf import to_ocsf
from ztgate.audit.proof import prove, verify_proof
from ztgate.audit.shipper import Shipper
from ztgate.audit.sinks import sink_from_url
from ztgate.audit.verify import Report, export_line, verify_backend, verify_export
from ztgate.cli._output import console, err_console, print_json
from ztgate.errors import AuditError, IntegrityError, UsageError

app = typer.Typer(
    help="Verify, tail, query and export the tamper-evident audit log.", no_args_is_help=True
)

DataDir = typer.Option(DEFAULT_DATA_DIR, "--data-dir", help="Data directory (SQLite + key).")
Store = typer.Option(
    None,
    "--store",
    envvar="ZTGATE_STORE",
    help="Database URL (postgresql://host/db?schema=x) or data directory; overrides --data-dir.",
)
Json = typer.Option(False, "--json", help="Print machine-readable JSON.")
Format = typer.Option("jsonl", "--format", help="Output format: jsonl or ocsf.")
Output = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write to this file (default stdout).")
]
PublicKeys = Annotated[
    list[Path] | None, typer.Option("--public-key", help="Ed25519 public key (PEM); repeatable.")
]

_RELATIVE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _parse_when(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    match = _RELATIVE.match(text.strip())
    if match:
        delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        return time_us(datetime.now(UTC) - delta)
    try:
        return time_us(parse_time(text))
    except AuditError:
        raise UsageError(
            f"invalid {option} `{text}`: use an RFC 3339 time or a duration like `15m`"
        ) from None


def _resolve(data_dir: Path, store: str | None) -> tuple[Path, str | None]:
    """``--store`` names a database URL, or a data directory like ``--data-dir``."""
    if store and "://" not in store:
        return Path(store), None
    return data_dir, store


def _open_read(data_dir: Path, store: str | None) -> Backend:
    data_dir, store = _resolve(data_dir, store)
    if store is None and not (data_dir / DB_FILE).exists():
        raise UsageError(f"no audit log at `{data_dir / DB_FILE}`")
    return open_backend(store_url(data_dir, store))


def _filter(
    agent: str | None,
    tool: str | None,
    effect: str | None,
    record_type: str | None,
    kind: str | None,
    since: str | None,
    until: str | None,
) -> QueryFilter:
    if effect is not None and effect not in ("allow", "deny", "approval_required"):
        raise UsageError(f"unknown effect `{effect}`")
    return QueryFilter(
        agent=agent,
        tool=tool,
        effect=effect,
        type=record_type,
        kind=kind,
        since_us=_parse_when(since, "--since"),
        until_us=_parse_when(until, "--until"),
    )


def _lines(records: Iterable[StoredRecord], fmt: str) -> Iterator[str]:
    if fmt not in ("jsonl", "ocsf"):
        raise UsageError(f"unknown format `{fmt}`: use `jsonl` or `ocsf`")
    for record in records:
        if fmt == "jsonl":
            yield export_line(record)
        else:
            for event in to_ocsf(json.loads(record.record), record.hash):
                yield json.dumps(event, sort_keys=True, separators=(",", ":"))


def _write(lines: Iterable[str], out: IO[str]) -> int:
    count = 0
    for line in lines:
        out.write(line + "\n")
        count += 1
    out.flush()
    return count


def _public_keys(data_dir: Path, files: list[Path] | None) -> list:  # type: ignore[type-arg]
    if files:
        return [load_public_key(_read(path)) for path in files]
    ring = public_keys_for(data_dir)
    if ring:
        return ring
    public = data_dir / PUBLIC_KEY_FILE
    if public.exists():
        return [load_public_key(public.read_bytes())]
    if (data_dir / KEY_FILE).exists():
        return [signer_for(data_dir).public_key]
    raise UsageError(f"no public key: pass `--public-key` (none in `{data_dir}`)")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read `{path}`: {error.strerror}") from error


def _finish(report: Report, as_json: bool) -> None:
    if as_json:
        print_json(report.to_dict())
    elif report.ok:
        console.print(
            f"ok: {report.records} records intact, {report.checkpoints} signed checkpoints, "
            f"sealed through record {report.sealed_seq}",
            markup=False,
        )
        for warning in report.warnings:
            err_console.print(f"warning: {warning}", markup=False)
    report.raise_for_failure()


@app.command()
def verify(
    data_dir: Path = DataDir,
    store: str | None = Store,
    file: Annotated[
        Path | None, typer.Option("--file", help="Verify a JSONL export offline.")
    ] = None,
    checkpoints: Annotated[
        list[Path] | None,
        typer.Option("--checkpoints", help="Exported checkpoints (JSONL); repeatable."),
    ] = None,
    public_key: PublicKeys = None,
    as_json: bool = Json,
) -> None:
    """Check the hash chain, Merkle roots and checkpoint signatures; exit 1 on tampering."""
    data_dir, store = _resolve(data_dir, store)
    extra = [cp for path in checkpoints or () for cp in read_checkpoints_file(path)]
    if file is not None:
        if not checkpoints or not public_key:
            raise UsageError("offline verification needs `--checkpoints` and `--public-key`")
        report = verify_export(file, extra, _public_keys(data_dir, public_key))
    else:
        backend = _open_read(data_dir, store)
        try:
            report = verify_backend(
                backend, _public_keys(data_dir, public_key), extra_checkpoints=extra
            )
        finally:
            backend.close()
    _finish(report, as_json)


@app.command()
def tail(
    lines: int = typer.Option(20, "-n", "--lines", help="How many records to show."),
    follow: bool = typer.Option(False, "-f", "--follow", help="Keep printing new records."),
    data_dir: Path = DataDir,
    store: str | None = Store,
    agent: str | None = typer.Option(None, "--agent"),
    tool: str | None = typer.Option(None, "--tool"),
    effect: str | None = typer.Option(None, "--effect"),
    fmt: str = Format,
) -> None:
    """Print the newest records, optionally following the log."""
    flt = _filter(agent, tool, effect, None, None, None, None)
    backend = _open_read(data_dir, store)
    try:
        newest = list(reversed(backend.query(flt, limit=lines, newest_first=True)))
        _write(_lines(newest, fmt), sys.stdout)
        last = newest[-1].seq if newest else backend.head()[0]
        while follow:
            time.sleep(0.5)
            fresh = backend.query(QueryFilter(**{**flt.__dict__, "after_seq": last}))
            if fresh:
                _write(_lines(fresh, fmt), sys.stdout)
                last = fresh[-1].seq
    finally:
        backend.close()


@app.command()
def query(
    data_dir: Path = DataDir,
    store: str | None = Store,
    agent: str | None = typer.Option(None, "--agent"),
    tool: str | None = typer.Option(None, "--tool"),
    effect: str | None = typer.Option(None, "--effect", help="allow, deny, approval_required."),
    record_type: str | None = typer.Option(None, "--type", help="decision or lifecycle."),
    kind: str | None = typer.Option(None, "--kind", help="Lifecycle kind."),
    since: str | None = typer.Option(None, "--since", help="RFC 3339 time or `15m`, `2h`..."),
    until: str | None = typer.Option(None, "--until"),
    limit: int = typer.Option(100, "--limit"),
    newest: bool = typer.Option(False, "--newest", help="Newest first."),
    fmt: str = Format,
) -> None:
    """Print records matching the filters."""
    flt = _filter(agent, tool, effect, record_type, kind, since, until)
    backend = _open_read(data_dir, store)
    try:
        _write(_lines(backend.query(flt, limit=limit, newest_first=newest), fmt), sys.stdout)
    finally:
        backend.close()


@app.command()
def export(
    data_dir: Path = DataDir,
    store: str | None = Store,
    output: Output = None,
    agent: str | None = typer.Option(None, "--agent"),
    tool: str | None = typer.Option(None, "--tool"),
    effect: str | None = typer.Option(None, "--effect"),
    record_type: str | None = typer.Option(None, "--type"),
    kind: str | None = typer.Option(None, "--kind"),
    since: str | None = typer.Option(None, "--since"),
    until: str | None = typer.Option(None, "--until"),
    fmt: str = Format,
) -> None:
    """Export records; an unfiltered jsonl export is verifiable with `verify --file`."""
    flt = _filter(agent, tool, effect, record_type, kind, since, until)
    backend = _open_read(data_dir, store)
    unfiltered = flt == QueryFilter()
    try:
        records: Iterable[StoredRecord] = (
            backend.records() if unfiltered else _paged_query(backend, flt)
        )
        if output is None:
            _write(_lines(records, fmt), sys.stdout)
        else:
            with output.open("w", encoding="utf-8") as out:
                count = _write(_lines(records, fmt), out)
            err_console.print(f"exported {count} lines to {output}", markup=False)
    finally:
        backend.close()


def _paged_query(backend: Backend, flt: QueryFilter) -> Iterator[StoredRecord]:
    while True:
        page = backend.query(flt, limit=1000)
        if not page:
            return
        yield from page
        flt = QueryFilter(**{**flt.__dict__, "after_seq": page[-1].seq})


@app.command()
def checkpoint(data_dir: Path = DataDir, store: str | None = Store, as_json: bool = Json) -> None:
    """Write a signed checkpoint over the log as it is now."""
    data_dir, store = _resolve(data_dir, store)
    log = open_log(data_dir, store=store, checkpoint_interval=None)
    try:
        made = log.checkpoint()
    finally:
        log.close()
    if as_json:
        print_json(made.to_dict())
    else:
        console.print(f"checkpoint at record {made.seq}: head {made.head}", markup=False)


@app.command()
def checkpoints(
    data_dir: Path = DataDir,
    store: str | None = Store,
    output: Output = None,
) -> None:
    """Print the stored checkpoints as JSONL (to re-export them elsewhere)."""
    backend = _open_read(data_dir, store)
    try:
        lines = [c.to_json() for c in backend.checkpoints()]
    finally:
        backend.close()
    if output is None:
        _write(lines, sys.stdout)
    else:
        with output.open("w", encoding="utf-8") as out:
            _write(lines, out)


@app.command("public-key")
def public_key_cmd(data_dir: Path = DataDir) -> None:
    """Print the checkpoint-signing public key (PEM), creating the key pair if needed."""
    sys.stdout.write(signer_for(data_dir).public_pem().decode("ascii"))


@app.command("prove")
def prove_cmd(
    seq: int = typer.Argument(..., help="Sequence number of the record to prove."),
    data_dir: Path = DataDir,
    store: str | None = Store,
) -> None:
    """Print a Merkle inclusion proof of one record against a signed checkpoint."""
    backend = _open_read(data_dir, store)
    try:
        print_json(prove(backend, seq))
    finally:
        backend.close()


@app.command("verify-proof")
def verify_proof_cmd(
    proof: Annotated[Path, typer.Argument(help="Proof file written by `ztgate audit prove`.")],
    public_key: PublicKeys = None,
    data_dir: Path = DataDir,
) -> None:
    """Check an inclusion proof offline; exit 1 if it does not hold."""
    try:
        unverified = json.loads(_read(proof))
    except ValueError as error:
        raise IntegrityError(f"proof `{proof}` is not JSON: {error}") from error
    seq = verify_proof(unverified, _public_keys(data_dir, public_key))
    console.print(f"ok: record {seq} is in the signed log", markup=False)


@app.command()
def ship(
    sink: Annotated[
        str,
        typer.Argument(
            help="file:PATH, syslog+udp://HOST:PORT, syslog+tcp://HOST:PORT or http(s)://URL."
        ),
    ],
    data_dir: Path = DataDir,
    store: str | None = Store,
    fmt: str = Format,
    shape: Annotated[
        str, typer.Option("--shape", help="Webhook body: generic or splunk_hec.")
    ] = "generic",
    token_env: Annotated[
        str | None,
        typer.Option("--token-env", help="Environment variable holding the webhook token."),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Ship what is there and exit (else follow).")
    ] = False,
) -> None:
    """Deliver records to a SIEM sink from a persisted cursor (at least once, in order)."""
    import os

    if fmt not in ("jsonl", "ocsf"):
        raise UsageError(f"unknown format `{fmt}`: use `jsonl` or `ocsf`")
    if shape not in ("generic", "splunk_hec"):
        raise UsageError(f"unknown webhook shape `{shape}`: use `generic` or `splunk_hec`")
    token = os.environ.get(token_env) if token_env else None
    if token_env and token is None:
        raise UsageError(f"environment variable `{token_env}` is not set")
    target = sink_from_url(sink, fmt=fmt, shape=shape, token=token)  # type: ignore[arg-type]
    backend = _open_read(data_dir, store)
    shipper = Shipper(backend, target)
    try:
        if once:
            shipped = shipper.drain()
            err_console.print(
                f"shipped {shipped} records; cursor at {shipper.cursor}", markup=False
            )
            return
        shipper.start()
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        shipper.stop()
        target.close()
        backend.close()


@app.command("rotate-key")
def rotate_key(data_dir: Path = DataDir, store: str | None = Store) -> None:
    """Replace the checkpoint-signing key; the old key signs off on the new one."""
    data_dir, store = _resolve(data_dir, store)
    old, new = rotate_signing_key(data_dir, store=store)
    console.print(f"rotated checkpoint key {old} -> {new}", markup=False)
