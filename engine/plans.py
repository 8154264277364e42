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
4. the MILP of `engine.allocation.optimise_plan` (HiGHS, greedy fallback flagged by the status), and the
   budget curve of `engine.allocation.budget_curve` when `curve_budgets` is given.

Time limit: `time_limit_s` (default 30 s) bounds each solve — the plan, and each point of the curve. On
the default export (6,000 employees, ~40k candidate pairs) each budget solves to a proven gap below 1e-4
in about 2 s (benchmarks/bench_plan_export.py), so 30 s leaves a wide margin on a loaded 2-core machine
while keeping an HTTP request bounded; the engine's candidate table, not the solver, dominates the time.

One request type and one answer type serve every surface: `PlanRequest` (a pydantic model: the
`POST /v1/plans` body, and what the CLI and notebooks build) and `PlanResponse` (the route's response
model, and what the CLI prints and writes; its allocation is a DataFrame in Python and a list in JSON).

`audit_inputs` is the compact JSON of a request recorded in the audit log: options, unit and training
ids, and only the *number* of listed NIPs (NIP digits encode birth date and sex; they never go to a log).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from typing_extensions import TypedDict  # pydantic needs typing_extensions' TypedDict before Python 3.12

from engine.allocation import PlanOptions, PlanResult, budget_curve, optimise_plan
from engine.allocation_problem import STANDARD_TOLERANCE
from engine.recommend import RecommendMixin
from engine.results import EngineError, UnknownEmployee, UnknownTraining
from engine.shrinkage import shrunk_gains
from engine.units import unit_scope
from features.atomic import write_atomic
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
from features.jp import jp_this_year
from features.values import HorizonMonths, Identifier, Rupiah, finite

CHUNK_EMPLOYEES = 1000  # zero-gain pairs (jp mode) are computed this many employees at a time
MAX_UNITS = 500
MAX_LISTED_NIPS = 10_000
MAX_LISTED_TRAININGS = 1_000
NipItem = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
_ID_LISTS = ("unit_ids", "include_nips", "exclude_nips", "include_training_ids", "exclude_training_ids")


class PlanRequest(BaseModel):
    """A budget in Rupiah, the scope and the per-employee limits of an annual training plan."""

    # The one request type of plans: the `POST /v1/plans` body (pydantic validates it; a bad value is a
    # 422 naming the field) and what `kompetensi plan` and the notebooks build in Python (`checked`: a bad
    # value raises `EngineError` naming the field). Id lists are tuples, each id once.

    model_config = ConfigDict(
        extra="ignore",
        str_strip_whitespace=True,
        frozen=True,
        json_schema_extra={"examples": [{
            "budget_idr": 2_000_000_000,
            "unit_ids": ["KEC-PTK-SELATAN", "OPD-DINKES"],
            "max_trainings_per_employee": 2,
            "max_jp_per_employee": 80,
            "jp_priority": False,
            "include_nips": [],
            "exclude_nips": [],
            "exclude_training_ids": ["PLT-PKN-II"],
            "horizon_months": 12,
            "curve_budgets": [500_000_000, 1_000_000_000, 2_000_000_000, 5_000_000_000],
        }]},
    )

    budget_idr: Rupiah = Field(description="the budget in Rupiah; the plan's total cost never exceeds it")
    unit_ids: tuple[Identifier, ...] = Field(default_factory=tuple, max_length=MAX_UNITS,
                                             description="units (with their sub-units: a kecamatan includes its "
                                                         "kelurahan); empty = all of them")
    max_trainings_per_employee: int = Field(default=PLAN_DEFAULT_MAX_TRAININGS_PER_EMPLOYEE, ge=0, le=20)
    max_jp_per_employee: int | None = Field(default=None, ge=0, le=10_000,
                                            description="JP per employee; null = no limit")
    jp_priority: bool = Field(default=False, description="first bring as many employees as the budget allows "
                                                         "to the 20 JP right this year, then maximise the gain")
    include_nips: tuple[NipItem, ...] = Field(default_factory=tuple, max_length=MAX_LISTED_NIPS,
                                              description="added to the scope; each gets a training when "
                                                          "feasible")
    exclude_nips: tuple[NipItem, ...] = Field(default_factory=tuple, max_length=MAX_LISTED_NIPS)
    include_training_ids: tuple[Identifier, ...] = Field(default_factory=tuple, max_length=MAX_LISTED_TRAININGS,
                                                         description="only these trainings; empty = the whole "
                                                                     "catalogue")
    exclude_training_ids: tuple[Identifier, ...] = Field(default_factory=tuple, max_length=MAX_LISTED_TRAININGS)
    seat_capacity: dict[Identifier, Annotated[int, Field(ge=0, le=1_000_000)]] = Field(
        default_factory=dict, max_length=MAX_LISTED_TRAININGS,
        description="training_id → seats in this plan; a training not listed has no seat limit")
    horizon_months: HorizonMonths = DEFAULT_HORIZON_MONTHS
    curve_budgets: tuple[Rupiah, ...] = Field(default_factory=tuple, max_length=PLAN_MAX_CURVE_BUDGETS,
                                              description="also solve at these budgets: the budget curve")
    candidates_per_employee: int = Field(default=PLAN_DEFAULT_CANDIDATES_PER_EMPLOYEE, ge=1, le=50,
                                         description="pairs kept per employee by gain and by gain per Rupiah")
    time_limit_s: float = Field(default=PLAN_DEFAULT_TIME_LIMIT_S, gt=0, le=PLAN_MAX_TIME_LIMIT_S,
                                description="seconds per solve (the plan and each curve point); when it hits "
                                            "before the MILP finds a solution the greedy plan is returned")

    @classmethod
    def checked(cls, **values: Any) -> PlanRequest:
        """The request, or `EngineError` naming the first invalid field (for the CLI's one-line reason)."""
        try:
            return cls(**values)
        except ValidationError as exc:
            error = exc.errors()[0]
            name = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
                           if part != "[key]").lstrip(".") or "request"
            raise EngineError(f"{name}: {error['msg']}", field=name) from None

    @field_validator(*_ID_LISTS)
    @classmethod
    def _each_once(cls, ids: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(ids))

    @field_validator("exclude_nips", "exclude_training_ids")
    @classmethod
    def _not_also_included(cls, excluded: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        included = "include_nips" if info.field_name == "exclude_nips" else "include_training_ids"
        both = sorted(set(excluded) & set(info.data.get(included, ())))
        if both and included == "include_nips":  # the message never names a NIP (its digits are protected)
            raise ValueError(f"{len(both)} employee(s) are also in include_nips")
        if both:
            raise ValueError(f"{', '.join(both[:3])} also in include_training_ids")
        return excluded

    def planner_options(self) -> PlanOptions:
        """The optimiser's options (the scope and training filters are applied to the candidates already)."""
        return PlanOptions(
            budget_idr=int(self.budget_idr), max_trainings_per_employee=int(self.max_trainings_per_employee),
            max_jp_per_employee=self.max_jp_per_employee, jp_priority=bool(self.jp_priority),
            include_nips=self.include_nips, seat_capacity=dict(self.seat_capacity) or None,
            time_limit_s=float(self.time_limit_s),
        )


class PlanAllocation(TypedDict):
    nip: str
    unit_id: str
    training_id: str
    title: str
    expected_gain: float
    cost_idr: int
    hours_jp: int


PLAN_ALLOCATION_COLUMNS = tuple(PlanAllocation.__annotations__)  # the allocation's columns, in this order


class PlanTotals(TypedDict):
    cost_idr: int
    expected_gain: Annotated[float, Field(description="Σ expected gain of the allocation, as estimated")]
    expected_gain_shrunk: Annotated[float, Field(description="Σ of the same pairs' gains shrunk by their "
                                                             "uncertainty (what the optimiser maximised)")]
    employees: Annotated[int, Field(description="employees given at least one training")]
    employees_reaching_standard: Annotated[int, Field(description="employees whose expected total gap closes "
                                                                  "fully")]
    employees_reaching_20_jp: Annotated[int, Field(description="employees below 20 JP this year who reach it")]
    budget_left_idr: int


class PlanScope(TypedDict):
    unit_ids: list[str]
    units: Annotated[int, Field(description="units in scope, sub-units included")]
    employees: Annotated[int, Field(description="active employees in scope")]
    employees_with_candidates: int
    candidates: Annotated[int, Field(description="(employee, training) pairs the optimiser chose from")]


class PlanCurvePoint(TypedDict):
    budget_idr: int
    expected_gain: float
    expected_gain_shrunk: float
    cost_idr: int
    employees: int
    employees_reaching_standard: int
    employees_reaching_20_jp: int
    status: str
    optimality_gap: float | None
    solve_seconds: float


def allocation_records(allocations: pd.DataFrame) -> list[PlanAllocation]:
    """Allocation rows as plain dicts (ints stay ints: JSON and CSV show the same numbers)."""
    return [PlanAllocation(nip=str(r.nip), unit_id=str(r.unit_id), training_id=str(r.training_id),
                           title=str(r.title), expected_gain=float(r.expected_gain), cost_idr=int(r.cost_idr),
                           hours_jp=int(r.hours_jp)) for r in allocations.itertuples(index=False)]


def _a_frame(value: Any) -> pd.DataFrame:
    if not isinstance(value, pd.DataFrame):
        raise ValueError("allocations must be a DataFrame")
    return value


# The allocation stays a DataFrame in Python (the CLI writes it, the fairness audit joins it); in JSON it
# is a list of PLAN_ALLOCATION_COLUMNS objects.
Allocations = Annotated[pd.DataFrame, PlainValidator(_a_frame),
                        PlainSerializer(allocation_records, return_type=list[PlanAllocation])]


@dataclass
class PlanResponse:
    """The plan: solver outcome, the allocation, totals, scope and the optional budget curve."""

    # The one answer type of plans: `make_plan` returns it, `kompetensi plan` prints and writes it, and it
    # is the `POST /v1/plans` response model (`body()`: the same JSON, as a dict).

    status: Annotated[str, Field(description="optimal, time_limit (best found, see the gap), greedy_fallback "
                                             "(the time limit hit before the solver found a solution), empty")]
    model_version: str
    as_of: date
    horizon_months: int
    budget_idr: int
    objective: Annotated[float, Field(description="total expected gain of the allocation (levels)")]
    optimality_gap: Annotated[float | None, Field(description="relative gap to the solver's bound; null = "
                                                              "unknown")]
    solve_seconds: float
    time_limit_s: float
    solver: Annotated[str, Field(description="highs-milp or greedy")]
    allocations: Allocations
    totals: PlanTotals
    scope: PlanScope
    unmet_include_nips: list[str]
    notes: list[str]
    candidates_seconds: float
    curve: list[PlanCurvePoint] | None = None

    def body(self) -> dict[str, Any]:
        """The JSON-ready body of `POST /v1/plans` (the API's serialisation of this very object)."""
        body: dict[str, Any] = _plan_json().dump_python(self, mode="json")
        return body


@cache
def _plan_json() -> TypeAdapter[PlanResponse]:
    return TypeAdapter(PlanResponse)


# ---------------------------------------------------------------------------------------------------
# Scope
# ---------------------------------------------------------------------------------------------------


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
    return pd.DataFrame({c: pd.Series([], dtype="object") for c in (*CANDIDATE_COLUMNS, "estimated_gain")})


def _zero_gain_pairs(predictor: Any, export: Export, nips: list[str], horizon_months: int) -> pd.DataFrame:
    """Eligible pairs whose gain is noise (≤ the engine's epsilon), as candidates with gain 0, for jp mode."""

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


def _gain_intervals(predictor: Any, export: Export, pool: pd.DataFrame, nips: list[str],
                    horizon_months: int) -> pd.DataFrame | None:
    """The 80% interval (lower, upper) of each candidate's expected gain, in `pool`'s order: the engine's
    (`pair_gains(detail=True)`), or the candidates' own `lower` / `upper` when they carry them; None when
    the source has none (e.g. known gains)."""
    if {"lower", "upper"} <= set(pool.columns):
        return pool[["lower", "upper"]].reset_index(drop=True)
    if not isinstance(predictor, RecommendMixin):
        return None
    parts = [predictor.pair_gains(export, nips[start:start + CHUNK_EMPLOYEES], horizon_months=horizon_months,
                                  detail=True)[["nip", "training_id", "lower", "upper"]]
             for start in range(0, len(nips), CHUNK_EMPLOYEES)]
    intervals = pd.concat(parts, ignore_index=True).astype({"nip": "str", "training_id": "str"})
    keys = pool[["nip", "training_id"]].astype(str)
    return keys.merge(intervals, on=["nip", "training_id"], how="left")[["lower", "upper"]]


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


def plan_candidates(predictor: Any, export: Export, request: PlanRequest, *, shrink: bool = False
                    ) -> tuple[pd.DataFrame, PlanScope]:
    """The pruned candidate pairs the optimiser sees, and the scope they come from: CANDIDATE_COLUMNS, with
    `shrink` the `expected_gain` shrunk by its uncertainty (`engine.shrinkage.shrunk_gains`), plus
    `estimated_gain`, the engine's own (unshrunk) estimate that the plan reports.

    `shrink` is off by default: on the tuning worlds (bench_decisions, 800 employees) it did not raise the
    plan value on average (−0.004 / −0.003 / −0.013 at the three budgets), so it is not the default."""
    _check_training_ids(export, request)
    nips = _scope_nips(export, request)
    if nips:
        pool = predictor.candidates(export, nips, top_k=None, horizon_months=request.horizon_months)
        intervals = _gain_intervals(predictor, export, pool, nips, request.horizon_months) if shrink else None
        pool = pool[list(CANDIDATE_COLUMNS)].assign(estimated_gain=pool["expected_gain"].to_numpy(np.float64))
        pool["expected_gain"] = shrunk_gains(pool, intervals)
        if request.jp_priority:
            jp = jp_this_year(export, export.exported_on)
            below = [n for n in nips if jp.get(n, 0.0) < JP_RIGHT_PER_YEAR]
            if below:
                extra = _zero_gain_pairs(predictor, export, below, request.horizon_months).assign(estimated_gain=0.0)
                pool = pd.concat([pool, extra], ignore_index=True) if len(extra) else pool
    else:
        pool = _empty_candidates()
    candidates = _prune(pool, request) if len(pool) else pool
    units = export["units"]
    return candidates, PlanScope(
        unit_ids=list(request.unit_ids),
        units=len(unit_scope(units, request.unit_ids)) if request.unit_ids else int(units["unit_id"].nunique()),
        employees=len(nips),
        employees_with_candidates=int(candidates["nip"].nunique()) if len(candidates) else 0,
        candidates=int(len(candidates)),
    )


# ---------------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------------
def make_plan(predictor: Any, export: Export, request: PlanRequest, *, shrink: bool = False) -> PlanResponse:
    """The allocation maximising total expected gain within the budget and limits (module docstring)."""
    started = time.perf_counter()
    candidates, scope = plan_candidates(predictor, export, request, shrink=shrink)
    candidates_seconds = time.perf_counter() - started
    options = request.planner_options()
    result = optimise_plan(candidates, options)
    estimated = _estimated(candidates)
    shrunk = not estimated.empty and not np.allclose(
        estimated.to_numpy(np.float64), candidates["expected_gain"].to_numpy(np.float64), rtol=0.0, atol=1e-12)
    curve = None
    if request.curve_budgets and shrunk:  # each point reports the estimated gain of its own allocation
        curve = [_curve_point(_reported(optimise_plan(candidates, replace(options, budget_idr=b)), estimated,
                                        candidates), b) for b in sorted({int(b) for b in request.curve_budgets})]
    elif request.curve_budgets:
        curve = [_curve_point({**p, "expected_gain_shrunk": p["expected_gain"]})
                 for p in budget_curve(candidates, request.curve_budgets, options)]
    result_totals = _reported(result, estimated, candidates)

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
        "expected_gain": _estimated_of(alloc, estimated),
        "cost_idr": alloc["cost_idr"].to_numpy(np.int64),
        "hours_jp": alloc["hours_jp"].to_numpy(np.int64),
    }, columns=list(PLAN_ALLOCATION_COLUMNS))
    totals = result_totals
    return PlanResponse(
        status=result.status, model_version=str(predictor.model_version), as_of=export.exported_on,
        horizon_months=int(request.horizon_months), budget_idr=int(request.budget_idr),
        objective=float(totals["expected_gain"]), optimality_gap=finite(result.optimality_gap),
        solve_seconds=float(result.solve_seconds), time_limit_s=float(request.time_limit_s), solver=result.solver,
        allocations=allocations,
        totals=PlanTotals(
            cost_idr=int(totals["cost_idr"]), expected_gain=float(totals["expected_gain"]),
            expected_gain_shrunk=float(totals["expected_gain_shrunk"]), employees=int(totals["employees"]), employees_reaching_standard=int(totals["employees_reaching_standard"]),
            employees_reaching_20_jp=int(totals["employees_reaching_20_jp"]),
            budget_left_idr=int(request.budget_idr) - int(totals["cost_idr"])),
        scope=scope, curve=curve, unmet_include_nips=list(result.unmet_include_nips), notes=list(result.notes),
        candidates_seconds=candidates_seconds,
    )


def _estimated(candidates: pd.DataFrame) -> pd.Series:
    """The engine's (unshrunk) estimate of each candidate pair, by (nip, training_id)."""
    if "estimated_gain" not in candidates.columns or candidates.empty:
        return pd.Series(dtype=np.float64)
    keys = pd.MultiIndex.from_arrays([candidates["nip"].astype(str), candidates["training_id"].astype(str)])
    estimated = pd.Series(candidates["estimated_gain"].to_numpy(np.float64), index=keys)
    return estimated[~estimated.index.duplicated()]


def _estimated_of(alloc: pd.DataFrame, estimated: pd.Series) -> np.ndarray:
    """The estimated (unshrunk) gain of the allocated pairs (their optimised gain when none is known)."""
    gain = alloc["expected_gain"].to_numpy(np.float64)
    if estimated.empty or alloc.empty:
        return gain
    keys = pd.MultiIndex.from_arrays([alloc["nip"].astype(str), alloc["training_id"].astype(str)])
    found = estimated.reindex(keys).to_numpy(np.float64)
    return np.where(np.isnan(found), gain, found)


def _reported(result: PlanResult, estimated: pd.Series, candidates: pd.DataFrame) -> dict[str, Any]:
    """The result's totals with the *estimated* gain of its allocation as `expected_gain` (and employees
    reaching the standard by it), and the shrunk gain the optimiser maximised as `expected_gain_shrunk`."""
    totals = dict(result.totals)
    alloc = result.allocations
    gain = _estimated_of(alloc, estimated)
    totals["expected_gain_shrunk"] = float(result.objective)
    totals["expected_gain"] = float(gain.sum())
    if not estimated.empty and len(alloc):
        nips = alloc["nip"].astype(str).to_numpy()
        per_employee = pd.Series(gain).groupby(nips).sum()
        before = candidates.groupby(candidates["nip"].astype(str))["total_gap_before"].first().astype(
            np.float64).reindex(per_employee.index).to_numpy()
        totals["employees_reaching_standard"] = int(np.sum((before > STANDARD_TOLERANCE) & (
            before - per_employee.to_numpy() <= STANDARD_TOLERANCE)))
    totals.update(status=result.status, optimality_gap=result.optimality_gap, solve_seconds=result.solve_seconds)
    return totals


def _curve_point(point: Mapping[str, Any], budget_idr: int | None = None) -> PlanCurvePoint:
    return PlanCurvePoint(
        budget_idr=int(point["budget_idr"] if budget_idr is None else budget_idr),
        expected_gain=float(point["expected_gain"]), expected_gain_shrunk=float(point["expected_gain_shrunk"]),
        cost_idr=int(point["cost_idr"]), employees=int(point["employees"]),
        employees_reaching_standard=int(point["employees_reaching_standard"]),
        employees_reaching_20_jp=int(point["employees_reaching_20_jp"]), status=str(point["status"]),
        optimality_gap=finite(point["optimality_gap"]), solve_seconds=float(point["solve_seconds"]))


# ---------------------------------------------------------------------------------------------------
# Audit and the CLI
# ---------------------------------------------------------------------------------------------------
def audit_inputs(request: PlanRequest) -> str:
    """Compact JSON of the request for the audit log: NIP lists are recorded as counts only."""
    inputs: dict[str, Any] = {}
    for name, value in request.model_dump(mode="json").items():
        if name in ("include_nips", "exclude_nips"):
            inputs[f"{name}_count"] = len(value)
        else:
            inputs[name] = value
    return json.dumps(inputs, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def write_allocations(response: PlanResponse, path: Path) -> Path:
    """The allocation as .csv or .parquet (by the suffix), written atomically."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise EngineError(f"--out must end in .csv or .parquet, not {path.suffix or '(none)'}", field="out")
    frame = response.allocations.assign(model_version=response.model_version)
    if suffix == ".parquet":
        return write_atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))
    return write_atomic(path, lambda tmp: frame.to_csv(tmp, index=False, float_format="%.6g"))


def parse_ids(values: Iterable[str] | None) -> tuple[str, ...]:
    """Repeated or comma-separated CLI values (`--unit A --unit B,C`) as one tuple of ids."""
    out: list[str] = []
    for value in values or ():
        out.extend(part.strip() for part in str(value).split(",") if part.strip())
    return tuple(dict.fromkeys(out))
