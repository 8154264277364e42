"""Budget-constrained training plans (`POST /v1/plans`): the annual plan of UU 5/2014 Ps. 70(4).

The handler is thin: the body becomes a `training.plans.PlanRequest`, `make_plan` does the work (the same
function `kompetensi plan` calls), and the request's options are handed to the audit middleware as a
compact JSON (NIP lists as counts) with the model version that answered. `training.plans` is imported in
the handler: importing the app must not load numpy (serving.main sets the thread limits first).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from features.constants import (
    DEFAULT_HORIZON_MONTHS,
    PLAN_DEFAULT_CANDIDATES_PER_EMPLOYEE,
    PLAN_DEFAULT_MAX_TRAININGS_PER_EMPLOYEE,
    PLAN_DEFAULT_TIME_LIMIT_S,
    PLAN_MAX_CURVE_BUDGETS,
    PLAN_MAX_TIME_LIMIT_S,
)
from serving.convert import plain
from serving.deps import MetricsDep, ModelDep, require_role
from serving.routers._common import AUTHED, problems
from serving.runtime import ServingState
from serving.schemas import HorizonMonths, Identifier, RequestModel

if TYPE_CHECKING:
    from training.plans import PlanRequest

router = APIRouter(prefix="/v1", tags=["planning"], dependencies=[Depends(require_role("planner"))])

MAX_UNITS = 500
MAX_LISTED_NIPS = 10_000
MAX_LISTED_TRAININGS = 1_000
NipItem = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Rupiah = Annotated[int, Field(ge=0, le=10**15)]


class PlanRequestBody(RequestModel):
    """A budget in Rupiah, the scope and the per-employee limits of an annual training plan."""

    model_config = ConfigDict(
        extra="ignore",
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
    unit_ids: list[Identifier] = Field(default_factory=list, max_length=MAX_UNITS,
                                       description="units (with their sub-units: a kecamatan includes its "
                                                   "kelurahan); empty = all of them")
    max_trainings_per_employee: int = Field(PLAN_DEFAULT_MAX_TRAININGS_PER_EMPLOYEE, ge=0, le=20)
    max_jp_per_employee: int | None = Field(None, ge=0, le=10_000, description="JP per employee; null = no limit")
    jp_priority: bool = Field(False, description="first bring as many employees as the budget allows to "
                                                 "the 20 JP right this year, then maximise the gain")
    include_nips: list[NipItem] = Field(default_factory=list, max_length=MAX_LISTED_NIPS,
                                        description="added to the scope; each gets a training when feasible")
    exclude_nips: list[NipItem] = Field(default_factory=list, max_length=MAX_LISTED_NIPS)
    include_training_ids: list[Identifier] = Field(default_factory=list, max_length=MAX_LISTED_TRAININGS,
                                                   description="only these trainings; empty = the whole catalogue")
    exclude_training_ids: list[Identifier] = Field(default_factory=list, max_length=MAX_LISTED_TRAININGS)
    seat_capacity: dict[Identifier, Annotated[int, Field(ge=0, le=1_000_000)]] = Field(
        default_factory=dict, max_length=MAX_LISTED_TRAININGS,
        description="training_id → seats in this plan; a training not listed has no seat limit")
    horizon_months: HorizonMonths = DEFAULT_HORIZON_MONTHS
    curve_budgets: list[Rupiah] = Field(default_factory=list, max_length=PLAN_MAX_CURVE_BUDGETS,
                                        description="also solve at these budgets: the budget curve")
    candidates_per_employee: int = Field(PLAN_DEFAULT_CANDIDATES_PER_EMPLOYEE, ge=1, le=50,
                                         description="pairs kept per employee by gain and by gain per Rupiah")
    time_limit_s: float = Field(PLAN_DEFAULT_TIME_LIMIT_S, gt=0, le=PLAN_MAX_TIME_LIMIT_S,
                                description="seconds per solve (the plan and each curve point); when it hits "
                                            "before the MILP finds a solution the greedy plan is returned")

    def to_request(self) -> PlanRequest:
        from training.plans import PlanRequest

        return PlanRequest(**self.model_dump())


class PlanAllocationItem(BaseModel):
    nip: str
    unit_id: str
    training_id: str
    title: str
    expected_gain: float
    cost_idr: int
    hours_jp: int


class PlanTotals(BaseModel):
    cost_idr: int
    expected_gain: float
    employees: int = Field(description="employees given at least one training")
    employees_reaching_standard: int = Field(description="employees whose expected total gap closes fully")
    employees_reaching_20_jp: int = Field(description="employees below 20 JP this year who reach it")
    budget_left_idr: int


class PlanScope(BaseModel):
    unit_ids: list[str]
    units: int = Field(description="units in scope, sub-units included")
    employees: int = Field(description="active employees in scope")
    employees_with_candidates: int
    candidates: int = Field(description="(employee, training) pairs the optimiser chose from")


class PlanCurvePoint(BaseModel):
    budget_idr: int
    expected_gain: float
    cost_idr: int
    employees: int
    employees_reaching_standard: int
    employees_reaching_20_jp: int
    status: str
    optimality_gap: float | None
    solve_seconds: float


class PlanResponseBody(BaseModel):
    status: str = Field(description="optimal, time_limit (best found, see the gap), greedy_fallback (the "
                                    "time limit hit before the solver found a solution), empty")
    model_version: str
    as_of: date
    horizon_months: int
    budget_idr: int
    objective: float = Field(description="total expected gain of the allocation (levels)")
    optimality_gap: float | None = Field(description="relative gap to the solver's bound; null = unknown")
    solve_seconds: float
    time_limit_s: float
    solver: str
    allocations: list[PlanAllocationItem]
    totals: PlanTotals
    scope: PlanScope
    curve: list[PlanCurvePoint] | None = None
    unmet_include_nips: list[str]
    notes: list[str]
    candidates_seconds: float


def _plan(state: ServingState, body: PlanRequestBody, request: Request) -> tuple[int, dict[str, Any]]:
    from training.plans import audit_inputs, make_plan

    assert state.export is not None  # guaranteed by ModelDep
    plan_request = body.to_request()
    request.state.audit_inputs = audit_inputs(plan_request)  # set first: a refused plan is audited too
    result = make_plan(state.predictor, state.export, plan_request)
    return int(result.scope["employees"]), plain(result.body())


@router.post("/plans", response_model=PlanResponseBody, responses=problems(*AUTHED, 404, 503))
async def create_plan(body: PlanRequestBody, request: Request, state: ModelDep,
                      metrics: MetricsDep) -> dict[str, Any]:
    """The allocation of trainings to employees that maximises total expected gain within the budget."""
    # A solve of up to its time limit: the default thread pool, not the per-employee model limiter.
    employees, answer = await run_in_threadpool(_plan, state, body, request)
    request.state.audit_count = employees
    metrics.predictions.labels("plan").inc(employees)
    return answer
