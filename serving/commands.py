"""What the serving commands of `serving.cli` do (`serve`, `keys create`, `plan`).

`kompetensi plan` answers as `POST /v1/plans` does (the champion bundle, the current store snapshot,
`engine.plans.make_plan`) and is audited like an API call (route "kompetensi plan").
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from engine.bundle import BundleError, load_champion
from engine.plans import PlanRequest, PlanResponse, audit_inputs, make_plan, parse_ids, write_allocations
from engine.results import EngineError
from features.console import fail, say
from features.settings import Settings, get_settings
from features.store import NoSnapshot, get_engine, load_snapshot
from serving.audit import AuditLog, AuditRecord
from serving.keys import create_key
from serving.main import serve as run_serve

AUDIT_ROUTE_CLI = "kompetensi plan"


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


def keys_create(role: str, name: str) -> None:
    key_id, secret = create_key(role, label=name)
    say(f"key id {key_id} ({role}); store the key now, it is not shown again:")
    typer.echo(secret)



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
