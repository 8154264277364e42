"""What the serving commands of `serving.cli` do (`serve`, `keys create|list|revoke|rotate`, `audit prune`,
`plan`).

`kompetensi plan` answers as `POST /v1/plans` does (the champion bundle, the current store snapshot,
`engine.plans.make_plan`) and is audited like an API call (route "kompetensi plan").
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from engine.bundle import BundleError, load_champion
from engine.plans import PlanRequest, PlanResponse, audit_inputs, make_plan, parse_ids, write_allocations
from engine.results import EngineError
from features.console import fail, parse_date, say
from features.settings import Settings, get_settings
from features.store import NoSnapshot, get_engine, load_snapshot
from serving.audit import AuditLog, AuditRecord
from serving.keys import (
    KeyRecord,
    UnknownKey,
    create_key,
    find_key,
    last_used,
    list_keys,
    revoke_key,
    rotate_key,
)
from serving.main import serve as run_serve

AUDIT_ROUTE_CLI = "kompetensi plan"
AUDIT_ROUTE_PRUNE = "kompetensi audit prune"


def serve(host: str, port: int) -> None:
    run_serve(host=host, port=port)  # one thread per native pool: serving.main.limit_native_threads


def plan(budget_idr: int, unit: list[str] | None, max_trainings_per_employee: int, max_jp_per_employee: int | None, jp_priority: bool, horizon_months: int, curve_budget: list[int] | None, time_limit: float, out: Path | None) -> None:
    if out is not None and out.suffix.lower() not in (".csv", ".parquet"):
        fail(f"--out {out} must end in .csv or .parquet")
    try:
        request = PlanRequest.checked(budget_idr=budget_idr, unit_ids=parse_ids(unit),
                                      max_trainings_per_employee=max_trainings_per_employee,
                                      max_jp_per_employee=max_jp_per_employee, jp_priority=jp_priority,
                                      horizon_months=horizon_months, curve_budgets=tuple(curve_budget or ()),
                                      time_limit_s=time_limit)
        say(f"planning Rp {budget_idr:,} over {', '.join(request.unit_ids) or 'every unit'} …")
        result = plan_from_store(request)
        if out is not None:
            write_allocations(result, out)
    except (NoSnapshot, BundleError, EngineError) as exc:
        fail(str(exc))
    gap = "unknown" if result.optimality_gap is None else f"{result.optimality_gap:.2e}"
    totals = result.totals
    say(f"status {result.status} ({result.solver}) in {result.solve_seconds:.1f} s; objective "
         f"{result.objective:.3f}; optimality gap {gap}; model version {result.model_version}")
    say(f"cost Rp {totals['cost_idr']:,} of Rp {result.budget_idr:,}; {totals['employees']:,} of "
         f"{result.scope['employees']:,} employees trained; {totals['employees_reaching_standard']:,} reach "
         f"their standard; {totals['employees_reaching_20_jp']:,} reach 20 JP")
    for point in result.curve or []:
        say(f"  curve: Rp {point['budget_idr']:,} → gain {point['expected_gain']:.3f} "
             f"(cost Rp {point['cost_idr']:,}, {point['status']})")
    for note in result.notes:
        say(f"note: {note}")
    if out is not None:
        say(f"wrote {out} ({len(result.allocations):,} allocations)")


def keys_create(role: str, name: str, expires_in_days: int | None = None, expires: str | None = None) -> None:
    expires_at = _expiry(expires_in_days, expires)
    key_id, secret = create_key(role, label=name, expires_at=expires_at)
    until = f", refused from {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at is not None else ""
    say(f"key id {key_id} ({role}{until}); store the key now, it is not shown again:")
    typer.echo(secret)


def keys_list() -> None:
    records = list_keys()
    if not records:
        say(f"no API keys in {get_settings().keys_file}")
        return
    used = last_used()
    header = ("key id", "role", "status", "created (UTC)", "expires (UTC)", "last used (UTC)", "name")
    rows = [header, *(_key_row(record, used.get(record.key_id)) for record in records)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:  # stdout, for scripts; the secret is not stored, the hash is not shown
        typer.echo("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]))


def keys_revoke(key_id: str) -> None:
    try:
        record = find_key(key_id)
    except UnknownKey as exc:
        fail(str(exc))
    if record.revoked_at or not revoke_key(key_id):
        say(f"key {key_id} was already revoked on {(find_key(key_id).revoked_at or '?')[:10]}")
        return
    say(f"revoked key {key_id} ({record.role}{', ' + record.label if record.label else ''}); a running "
        "server refuses it from its next request")


def keys_rotate(key_id: str, expires_in_days: int | None = None, expires: str | None = None) -> None:
    try:
        record, secret = rotate_key(key_id, expires_at=_expiry(expires_in_days, expires))
    except (UnknownKey, ValueError) as exc:
        fail(str(exc))
    until = f", refused from {record.expires:%Y-%m-%d %H:%M} UTC" if record.expires is not None else ""
    say(f"key id {key_id} ({record.role}{until}) has a new secret; the old one is refused from the next "
        "request on. Store the key now, it is not shown again:")
    typer.echo(secret)


def _expiry(expires_in_days: int | None, expires: str | None) -> datetime | None:
    """The moment a new or rotated key is refused from: --expires-in-days N or --expires YYYY-MM-DD."""
    if expires_in_days is not None and expires is not None:
        fail("give --expires-in-days or --expires, not both")
    now = datetime.now(UTC)
    if expires_in_days is not None:
        return now + timedelta(days=expires_in_days)
    day = parse_date(expires, "--expires")
    if day is None:
        return None
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if moment <= now:
        fail(f"--expires {expires} is not in the future")
    return moment


def _key_row(record: KeyRecord, used: datetime | None) -> tuple[str, ...]:
    def minute(moment: datetime | None) -> str:
        return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M}" if moment is not None else "-"

    created = datetime.fromisoformat(record.created_at)
    return (record.key_id, record.role, record.status(), minute(created), minute(record.expires), minute(used),
            record.label)


def audit_prune(older_than_days: int) -> None:
    settings = get_settings()
    started = time.perf_counter()
    cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
    log = AuditLog(lambda: get_engine(settings.store_url))
    try:
        deleted = log.prune(cutoff)
    except SQLAlchemyError as exc:
        fail(f"cannot prune the audit trail in {_store_name(settings)}: {_reason(exc)}")
    say(f"deleted {deleted:,} audit record(s) from before {cutoff:%Y-%m-%d %H:%M} UTC")
    # Who deleted audit records, and which, is itself audited.
    log.record(AuditRecord(at=datetime.now(UTC), key_id="cli", method="CLI", route=AUDIT_ROUTE_PRUNE, nip=None,
                           nips_count=None, model_version=None, status=200,
                           latency_ms=round((time.perf_counter() - started) * 1000, 3),
                           inputs=json.dumps({"older_than_days": older_than_days, "deleted": deleted},
                                             separators=(",", ":"))))
    log.flush(timeout=10.0)
    log.close()


def _store_name(settings: Settings) -> str:
    """The store's URL without its password, for messages."""
    return make_url(settings.store_url).render_as_string(hide_password=True)


def _reason(error: SQLAlchemyError) -> str:
    """The driver's own first line (e.g. "database is locked", "connection refused"), without the SQL."""
    cause = error.orig if isinstance(error, DBAPIError) else error
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]



def plan_from_store(request: PlanRequest, *, settings: Settings | None = None, audit: bool = True,
                    key_id: str = "cli") -> PlanResponse:
    """`kompetensi plan`: the champion bundle and the current store snapshot (as the server loads them),
    `make_plan`, and an audit record (route "kompetensi plan") with the inputs and the model version."""

    settings = settings or get_settings()
    started = time.perf_counter()
    loaded = load_champion(settings.models_dir)
    predictor: Any = loaded.bundle
    predictor.configure(jpm_bands=settings.jpm_bands, seed=settings.seed)  # as the server does on loading
    if isinstance(getattr(predictor, "metadata", None), dict) and not predictor.metadata.get("model_version"):
        predictor.metadata["model_version"] = str(loaded.version)  # as the server names an unregistered bundle
    export = load_snapshot(get_engine(settings.store_url)).without_protected()
    status = 500
    response: PlanResponse | None = None
    try:
        response = make_plan(predictor, export, request)
        status = 200
        return response
    except EngineError as exc:
        status = int(getattr(exc, "status", 422))
        raise
    finally:
        if audit:
            _record_cli_audit(settings, request, str(predictor.model_version), status,
                              time.perf_counter() - started, key_id,
                              response.scope["employees"] if response is not None else None)


def _record_cli_audit(settings: Settings, request: PlanRequest, model_version: str, status: int, seconds: float,
                      key_id: str, employees: int | None) -> None:


    log = AuditLog(lambda: get_engine(settings.store_url))
    log.record(AuditRecord(at=datetime.now(UTC), key_id=key_id, method="CLI", route=AUDIT_ROUTE_CLI, nip=None,
                           nips_count=employees, model_version=model_version, status=status,
                           latency_ms=round(seconds * 1000, 3), inputs=audit_inputs(request)))
    log.flush(timeout=10.0)
    log.close()
