"""Budget-constrained training plans for a set of units (INTERFACES.md `POST /v1/plans`, `kompetensi plan`).

`make_plan` is the one function behind the API and the CLI, so both give the same allocation:

1. scope: the active employees of the requested units *and their descendants* (a kecamatan includes its
   kelurahan, an OPD its sub-units, via `parent_unit_id`; no unit = the whole export), plus
   `include_nips`, minus `exclude_nips`;
2. candidates: the recommendation engine's eligible (employee, training) pairs with their expected gain
   at the horizon (`Predictor.candidates`); with `jp_priority` also the zero-gain eligible pairs of
   employees below 20 JP this year, because a training that closes no gap still counts towards the
   20 JP right;
3. pruning: trainings outside `include_training_ids`, in `exclude_training_ids`, with no seat, dearer than
   the largest budget or longer than `max_jp_per_employee` are dropped first; then each employee keeps
   the union of their top `candidates_per_employee` pairs by expected gain, by gain per Rupiah and (jp
   mode, below 20 JP) by JP per Rupiah — so that a small budget still finds the cheap, efficient pairs;
4. the MILP of `training.planner.optimise_plan` (HiGHS, greedy fallback flagged by the status), and the
   budget curve of `training.planner.budget_curve` when `curve_budgets` is given.

Time limit: `time_limit_s` (default 30 s) bounds each solve — the plan, and each point of the curve. On
the default export (6,000 employees, ~40k candidate pairs) each budget solves to a proven gap below 1e-4
in about 2 s (benchmarks/bench_plan_export.py), so 30 s leaves a wide margin on a loaded 2-core machine
while keeping an HTTP request bounded; the engine's candidate table, not the solver, dominates the time.

`audit_inputs` is the compact JSON of a request recorded in the audit log: options, unit and training
ids, and only the *number* of listed NIPs (NIP digits encode birth date and sex; they never go to a log).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from features.constants import (
    ACTIVE_STATUS,
    CANDIDATE_COLUMNS,
    DEFAULT_HORIZON_MONTHS,
    JP_RIGHT_PER_YEAR,
    PLAN_DEFAULT_CANDIDATES_PER_EMPLOYEE,
    PLAN_DEFAULT_MAX_TRAININGS_PER_EMPLOYEE,
    PLAN_DEFAULT_TIME_LIMIT_S,
    PLAN_MAX_CURVE_BUDGETS,
    PLAN_MAX_TIME_LIMIT_S,
)
from features.export import Export
from training.planner import PlanOptions, budget_curve, optimise_plan
from training.results import EngineError, UnknownEmployee, UnknownTraining, UnknownUnit

if TYPE_CHECKING:
    from features.settings import Settings

CHUNK_EMPLOYEES = 1000  # zero-gain pairs (jp mode) are computed this many employees at a time
PLAN_ALLOCATION_COLUMNS = ("nip", "unit_id", "training_id", "title", "expected_gain", "cost_idr", "hours_jp")
AUDIT_ROUTE_CLI = "kompetensi plan"


@dataclass(frozen=True)
class PlanRequest:
    """What a planner asks for (the `POST /v1/plans` body); invalid values raise EngineError naming the field."""

    budget_idr: int
    unit_ids: tuple[str, ...] = ()  # these units and their descendants; empty = every unit
    max_trainings_per_employee: int = PLAN_DEFAULT_MAX_TRAININGS_PER_EMPLOYEE
    max_jp_per_employee: int | None = None
    jp_priority: bool = False  # first bring as many employees as the budget allows to 20 JP this year
    include_nips: tuple[str, ...] = ()  # added to the scope; each gets a training when feasible
    exclude_nips: tuple[str, ...] = ()
    include_training_ids: tuple[str, ...] = ()  # only these trainings; empty = the whole catalogue
    exclude_training_ids: tuple[str, ...] = ()
    seat_capacity: Mapping[str, int] = field(default_factory=dict)  # training_id → seats; absent = unlimited
    horizon_months: int = DEFAULT_HORIZON_MONTHS
    curve_budgets: tuple[int, ...] = ()
    candidates_per_employee: int = PLAN_DEFAULT_CANDIDATES_PER_EMPLOYEE
    time_limit_s: float = PLAN_DEFAULT_TIME_LIMIT_S

    def __post_init__(self) -> None:
        # Lists from JSON or typer become tuples (hashable, and never iterated as a bare string).
        for name in ("unit_ids", "include_nips", "exclude_nips", "include_training_ids", "exclude_training_ids"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise EngineError(f"{name} must be a list of ids, not a string", field=name)
            object.__setattr__(self, name, tuple(dict.fromkeys(str(v).strip() for v in value)))
        object.__setattr__(self, "curve_budgets", tuple(self.curve_budgets))
        object.__setattr__(self, "seat_capacity", {str(k): v for k, v in dict(self.seat_capacity).items()})
        _check(self.budget_idr >= 0, "budget_idr", "must be ≥ 0")
        _check(self.max_trainings_per_employee >= 0, "max_trainings_per_employee", "must be ≥ 0")
        _check(self.max_jp_per_employee is None or self.max_jp_per_employee >= 0, "max_jp_per_employee",
               "must be ≥ 0")
        _check(self.candidates_per_employee >= 1, "candidates_per_employee", "must be ≥ 1")
        _check(0 < self.time_limit_s <= PLAN_MAX_TIME_LIMIT_S, "time_limit_s", f"must be in (0, {PLAN_MAX_TIME_LIMIT_S:g}]")
        _check(len(self.curve_budgets) <= PLAN_MAX_CURVE_BUDGETS, "curve_budgets",
               f"may hold at most {PLAN_MAX_CURVE_BUDGETS} budgets")
        for i, budget in enumerate(self.curve_budgets):
            _check(budget >= 0, f"curve_budgets[{i}]", "must be ≥ 0")
        for training_id, seats in self.seat_capacity.items():
            _check(seats >= 0, f"seat_capacity.{training_id}", "must be ≥ 0")
        both = set(self.include_nips) & set(self.exclude_nips)
        _check(not both, "include_nips", f"{len(both)} employee(s) are also in exclude_nips")
        both_t = sorted(set(self.include_training_ids) & set(self.exclude_training_ids))
        _check(not both_t, "include_training_ids", f"{', '.join(both_t[:3])} also in exclude_training_ids")

    def planner_options(self) -> PlanOptions:
        """The optimiser's options (the scope and training filters are applied to the candidates already)."""
        return PlanOptions(
            budget_idr=int(self.budget_idr), max_trainings_per_employee=int(self.max_trainings_per_employee),
            max_jp_per_employee=self.max_jp_per_employee, jp_priority=bool(self.jp_priority),
            include_nips=self.include_nips, seat_capacity=dict(self.seat_capacity) or None,
            time_limit_s=float(self.time_limit_s),
        )


def _check(ok: bool, name: str, message: str) -> None:
    if not ok:
        raise EngineError(f"{name} {message}", field=name)


@dataclass
class PlanResponse:
    """The plan: solver outcome, allocation (PLAN_ALLOCATION_COLUMNS), totals, optional budget curve."""

    status: str  # training.planner.PLAN_STATUSES; "greedy_fallback" = the time limit hit before a MILP point
    model_version: str
    as_of: date
    horizon_months: int
    budget_idr: int
    objective: float  # total expected gain of the allocation
    optimality_gap: float | None
    solve_seconds: float
    time_limit_s: float
    solver: str  # "highs-milp" or "greedy"
    allocations: pd.DataFrame
    totals: dict[str, Any]
    scope: dict[str, Any]  # unit_ids, units, employees, employees_with_candidates, candidates
    curve: list[dict[str, Any]] | None = None
    unmet_include_nips: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    candidates_seconds: float = 0.0

    def body(self) -> dict[str, Any]:
        """The JSON-ready body of `POST /v1/plans` (plain ints, floats and strings)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "allocations"}
        out["as_of"] = self.as_of
        out["allocations"] = allocation_records(self.allocations)
        return out


def allocation_records(allocations: pd.DataFrame) -> list[dict[str, Any]]:
    """Allocation rows as plain dicts (ints stay ints: JSON and CSV show the same numbers)."""
    return [{"nip": str(r.nip), "unit_id": str(r.unit_id), "training_id": str(r.training_id),
             "title": str(r.title), "expected_gain": float(r.expected_gain), "cost_idr": int(r.cost_idr),
             "hours_jp": int(r.hours_jp)} for r in allocations.itertuples(index=False)]


# ---------------------------------------------------------------------------------------------------
# Scope
# ---------------------------------------------------------------------------------------------------
def unit_scope(units: pd.DataFrame, unit_ids: Sequence[str]) -> set[str]:
    """The requested units and all their descendants (children, grandchildren, … via parent_unit_id)."""
    known = units["unit_id"].astype(str).tolist()
    known_set = set(known)
    for i, unit_id in enumerate(unit_ids):
        if unit_id not in known_set:
            raise UnknownUnit(f"unknown unit {unit_id}", field=f"unit_ids[{i}]")
    parents = units["parent_unit_id"] if "parent_unit_id" in units.columns else pd.Series(pd.NA, index=units.index)
    children: dict[str, list[str]] = {}
    for child, parent in zip(known, parents.tolist(), strict=True):
        if parent is not None and not pd.isna(parent):
            children.setdefault(str(parent), []).append(child)
    scope: set[str] = set()
    todo = list(unit_ids)
    while todo:  # a visited set guards against a (contract-breaking) cycle
        unit_id = todo.pop()
        if unit_id not in scope:
            scope.add(unit_id)
            todo.extend(children.get(unit_id, ()))
    return scope


def _scope_nips(export: Export, request: PlanRequest) -> list[str]:
    """Active employees of the unit scope, plus included, minus excluded; unknown ids are errors."""
    employees = export["employees"]
    nips = employees["nip"].astype(str)
    known = set(nips)
    for name in ("include_nips", "exclude_nips"):
        for i, nip in enumerate(getattr(request, name)):
            if nip not in known:
                # The message names the position in the list, never the NIP (its digits are protected).
                raise UnknownEmployee(f"{name}[{i}]: unknown employee", field=f"{name}[{i}]")
    active = (employees["status"].astype(str) == ACTIVE_STATUS).to_numpy()
    status = dict(zip(nips, active, strict=True))
    for i, nip in enumerate(request.include_nips):
        if not status[nip]:
            raise EngineError(f"include_nips[{i}]: the employee is not active", field=f"include_nips[{i}]")
    in_scope = active.copy()
    if request.unit_ids:
        scope = unit_scope(export["units"], request.unit_ids)
        in_scope &= employees["unit_id"].astype(str).isin(scope).to_numpy()
    chosen = set(nips[in_scope]) | set(request.include_nips)
    chosen -= set(request.exclude_nips)
    return sorted(chosen)


# ---------------------------------------------------------------------------------------------------
# Candidates
# ---------------------------------------------------------------------------------------------------
def _check_training_ids(export: Export, request: PlanRequest) -> None:
    known = set(export["trainings"]["training_id"].astype(str))
    lists = {"include_training_ids": request.include_training_ids,
             "exclude_training_ids": request.exclude_training_ids, "seat_capacity": tuple(request.seat_capacity)}
    for name, ids in lists.items():
        for i, training_id in enumerate(ids):
            if training_id not in known:
                where = f"{name}.{training_id}" if name == "seat_capacity" else f"{name}[{i}]"
                raise UnknownTraining(f"{where}: unknown training {training_id}", field=where)


def _empty_candidates() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="object") for c in CANDIDATE_COLUMNS})


def _zero_gain_pairs(predictor: Any, export: Export, nips: list[str], horizon_months: int) -> pd.DataFrame:
    """Eligible pairs whose gain is noise (≤ the engine's epsilon), as candidates with gain 0, for jp mode."""
    from training.predictor import jp_this_year

    epsilon = float(getattr(predictor, "gain_epsilon", 0.0))
    parts = []
    for start in range(0, len(nips), CHUNK_EMPLOYEES):
        pairs = predictor.pair_gains(export, nips[start:start + CHUNK_EMPLOYEES], horizon_months=horizon_months)
        parts.append(pairs[pairs["expected_gain"] <= epsilon])
    if not parts:
        return _empty_candidates()
    pairs = pd.concat(parts, ignore_index=True)
    employees = export["employees"].set_index(export["employees"]["nip"].astype(str))
    jp = jp_this_year(export, export.exported_on)
    return pd.DataFrame({
        "nip": pairs["nip"].astype(str).to_numpy(dtype=object),
        "training_id": pairs["training_id"].astype(str).to_numpy(dtype=object),
        "expected_gain": 0.0,  # noise is not a gain: the pair serves only the JP priority
        "cost_idr": pairs["cost_idr"].to_numpy(np.int64),
        "hours_jp": pairs["hours_jp"].to_numpy(np.int64),
        "competency_ids": [()] * len(pairs),  # closes no gap, so it competes with no competency
        "unit_id": employees["unit_id"].astype(str).reindex(pairs["nip"].astype(str)).to_numpy(dtype=object),
        "total_gap_before": pairs["total_gap_before"].to_numpy(np.float64),
        "jp_this_year": jp.reindex(pairs["nip"].astype(str)).fillna(0.0).to_numpy(np.float64),
    })


def _top_per_employee(frame: pd.DataFrame, score: np.ndarray, k: int, eligible: np.ndarray) -> np.ndarray:
    """Mask of each employee's k best rows by `score` (ties: cheaper, then training_id), among `eligible`."""
    order = pd.DataFrame({"nip": frame["nip"].to_numpy(), "score": -score, "cost": frame["cost_idr"].to_numpy(),
                          "training_id": frame["training_id"].to_numpy(), "row": np.arange(len(frame))})
    order = order[eligible].sort_values(["nip", "score", "cost", "training_id"], kind="stable")
    keep = np.zeros(len(frame), dtype=bool)
    keep[order.groupby("nip", sort=False).head(k)["row"].to_numpy()] = True
    return keep


def _prune(candidates: pd.DataFrame, request: PlanRequest) -> pd.DataFrame:
    """Filter what can never be chosen, then keep each employee's best pairs (module docstring, step 3)."""
    frame = candidates
    keep = np.ones(len(frame), dtype=bool)
    training = frame["training_id"].astype(str)
    if request.include_training_ids:
        keep &= training.isin(set(request.include_training_ids)).to_numpy()
    if request.exclude_training_ids:
        keep &= ~training.isin(set(request.exclude_training_ids)).to_numpy()
    no_seat = [t for t, seats in request.seat_capacity.items() if seats <= 0]
    if no_seat:
        keep &= ~training.isin(set(no_seat)).to_numpy()
    max_budget = max((request.budget_idr, *request.curve_budgets))
    cost = frame["cost_idr"].to_numpy(np.float64)
    hours = frame["hours_jp"].to_numpy(np.float64)
    keep &= cost <= max_budget
    if request.max_jp_per_employee is not None:
        keep &= hours <= request.max_jp_per_employee
    frame = frame[keep].reset_index(drop=True)
    if frame.empty:
        return frame

    k = request.candidates_per_employee
    gain = frame["expected_gain"].to_numpy(np.float64)
    cost = frame["cost_idr"].to_numpy(np.float64)
    hours = frame["hours_jp"].to_numpy(np.float64)
    positive = gain > 0
    per_rupiah = np.where(cost > 0, gain / np.maximum(cost, 1.0), np.inf)  # free trainings first
    chosen = _top_per_employee(frame, gain, k, positive) | _top_per_employee(frame, per_rupiah, k, positive)
    if request.jp_priority:
        below = frame["jp_this_year"].to_numpy(np.float64) < JP_RIGHT_PER_YEAR
        jp_per_rupiah = np.where(cost > 0, hours / np.maximum(cost, 1.0), np.inf)
        chosen |= _top_per_employee(frame, jp_per_rupiah, k, below & (hours > 0))
    return frame[chosen].sort_values(["nip", "training_id"], kind="stable").reset_index(drop=True)


def plan_candidates(predictor: Any, export: Export, request: PlanRequest) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The pruned candidate pairs (CANDIDATE_COLUMNS) the optimiser sees, and the scope they come from."""
    _check_training_ids(export, request)
    nips = _scope_nips(export, request)
    scope: dict[str, Any] = {"unit_ids": list(request.unit_ids), "employees": len(nips)}
    if request.unit_ids:
        scope["units"] = len(unit_scope(export["units"], request.unit_ids))
    else:
        scope["units"] = int(export["units"]["unit_id"].nunique())
    if nips:
        pool = predictor.candidates(export, nips, top_k=None, horizon_months=request.horizon_months)
        pool = pool[list(CANDIDATE_COLUMNS)]
        if request.jp_priority:
            from training.predictor import jp_this_year

            jp = jp_this_year(export, export.exported_on)
            below = [n for n in nips if jp.get(n, 0.0) < JP_RIGHT_PER_YEAR]
            if below:
                extra = _zero_gain_pairs(predictor, export, below, request.horizon_months)
                pool = pd.concat([pool, extra], ignore_index=True) if len(extra) else pool
    else:
        pool = _empty_candidates()
    candidates = _prune(pool, request) if len(pool) else pool
    scope["employees_with_candidates"] = int(candidates["nip"].nunique()) if len(candidates) else 0
    scope["candidates"] = int(len(candidates))
    return candidates, scope


# ---------------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------------
def make_plan(predictor: Any, export: Export, request: PlanRequest) -> PlanResponse:
    """The allocation maximising total expected gain within the budget and limits (module docstring)."""
    started = time.perf_counter()
    candidates, scope = plan_candidates(predictor, export, request)
    candidates_seconds = time.perf_counter() - started
    options = request.planner_options()
    result = optimise_plan(candidates, options)
    curve = None
    if request.curve_budgets:
        curve = [_curve_point(p) for p in budget_curve(candidates, request.curve_budgets, options)]

    trainings = export["trainings"].set_index(export["trainings"]["training_id"].astype(str))
    units = pd.Series(candidates["unit_id"].to_numpy(), index=candidates["nip"].to_numpy()) if len(candidates) \
        else pd.Series(dtype=object)
    units = units[~units.index.duplicated()]
    alloc = result.allocations
    allocations = pd.DataFrame({
        "nip": alloc["nip"].astype(str).to_numpy(dtype=object),
        "unit_id": units.reindex(alloc["nip"].astype(str)).astype(str).to_numpy(dtype=object),
        "training_id": alloc["training_id"].astype(str).to_numpy(dtype=object),
        "title": trainings["title"].astype(str).reindex(alloc["training_id"].astype(str)).to_numpy(dtype=object),
        "expected_gain": alloc["expected_gain"].to_numpy(np.float64),
        "cost_idr": alloc["cost_idr"].to_numpy(np.int64),
        "hours_jp": alloc["hours_jp"].to_numpy(np.int64),
    }, columns=list(PLAN_ALLOCATION_COLUMNS))
    totals = {k: (int(v) if isinstance(v, (int, np.integer)) else float(v)) for k, v in result.totals.items()}
    totals["budget_left_idr"] = int(request.budget_idr) - int(totals["cost_idr"])
    return PlanResponse(
        status=result.status, model_version=str(predictor.model_version), as_of=export.exported_on,
        horizon_months=int(request.horizon_months), budget_idr=int(request.budget_idr),
        objective=float(result.objective), optimality_gap=_finite(result.optimality_gap),
        solve_seconds=float(result.solve_seconds), time_limit_s=float(request.time_limit_s), solver=result.solver,
        allocations=allocations, totals=totals, scope=scope, curve=curve,
        unmet_include_nips=list(result.unmet_include_nips), notes=list(result.notes),
        candidates_seconds=candidates_seconds,
    )


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _curve_point(point: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("budget_idr", "expected_gain", "cost_idr", "employees", "employees_reaching_standard",
            "employees_reaching_20_jp", "status", "optimality_gap", "solve_seconds")
    out: dict[str, Any] = {}
    for key in keys:
        value = point.get(key)
        if isinstance(value, (bool, str)) or value is None:
            out[key] = value
        elif isinstance(value, (int, np.integer)):
            out[key] = int(value)
        else:
            out[key] = _finite(float(value))
    return out


# ---------------------------------------------------------------------------------------------------
# Audit and the CLI
# ---------------------------------------------------------------------------------------------------
def audit_inputs(request: PlanRequest) -> str:
    """Compact JSON of the request for the audit log: NIP lists are recorded as counts only."""
    inputs: dict[str, Any] = {}
    for f in fields(request):
        value = getattr(request, f.name)
        if f.name in ("include_nips", "exclude_nips"):
            inputs[f"{f.name}_count"] = len(value)
        elif isinstance(value, tuple):
            inputs[f.name] = list(value)
        elif isinstance(value, Mapping):
            inputs[f.name] = dict(sorted(value.items()))
        else:
            inputs[f.name] = value
    return json.dumps(inputs, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def write_allocations(response: PlanResponse, path: Path) -> Path:
    """The allocation as .csv or .parquet (by the suffix), written atomically."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise EngineError(f"--out must end in .csv or .parquet, not {path.suffix or '(none)'}", field="out")
    frame = response.allocations.assign(model_version=response.model_version)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if suffix == ".parquet":
        frame.to_parquet(tmp, index=False)
    else:
        frame.to_csv(tmp, index=False, float_format="%.6g")
    tmp.replace(path)
    return path


def plan_from_store(request: PlanRequest, *, settings: Settings | None = None, audit: bool = True,
                    key_id: str = "cli") -> PlanResponse:
    """`kompetensi plan`: the champion bundle and the current store snapshot (as the server loads them),
    `make_plan`, and an audit record (route "kompetensi plan") with the inputs and the model version."""
    from features.settings import get_settings
    from features.store import get_engine, load_snapshot
    from serving.bundle import load_champion

    settings = settings or get_settings()
    started = time.perf_counter()
    loaded = load_champion(settings.models_dir)
    predictor: Any = loaded.bundle
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
    from datetime import UTC, datetime

    from features.store import get_engine
    from serving.audit import AuditLog, AuditRecord

    log = AuditLog(lambda: get_engine(settings.store_url))
    log.record(AuditRecord(at=datetime.now(UTC), key_id=key_id, method="CLI", route=AUDIT_ROUTE_CLI, nip=None,
                           nips_count=employees, model_version=model_version, status=status,
                           latency_ms=round(seconds * 1000, 3), inputs=audit_inputs(request)))
    log.flush(timeout=10.0)
    log.close()


def parse_ids(values: Iterable[str] | None) -> tuple[str, ...]:
    """Repeated or comma-separated CLI values (`--unit A --unit B,C`) as one tuple of ids."""
    out: list[str] = []
    for value in values or ():
        out.extend(part.strip() for part in str(value).split(",") if part.strip())
    return tuple(dict.fromkeys(out))
