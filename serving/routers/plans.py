"""Budget-constrained training plans (`POST /v1/plans`): the annual plan of UU 5/2014 Ps. 70(4).

The handler is thin: the body is an `engine.plans.PlanRequest` (validated by pydantic), `make_plan` does
the work (the same function `kompetensi plan` calls) and its `PlanResponse` is the answer, and the
request's options are handed to the audit middleware as a compact JSON (NIP lists as counts) with the
model version that answered.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from engine.plans import PlanRequest, PlanResponse, audit_inputs, make_plan
from serving.compute import run_plan
from serving.deps import MetricsDep, ModelDep, require_role
from serving.routers._common import AUTHED, problems
from serving.runtime import ServingState

router = APIRouter(prefix="/v1", tags=["planning"], dependencies=[Depends(require_role("planner"))])


def _plan(state: ServingState, body: PlanRequest, request: Request) -> PlanResponse:
    assert state.export is not None  # guaranteed by ModelDep
    request.state.audit_inputs = audit_inputs(body)  # set first: a refused plan is audited too
    return make_plan(state.predictor, state.export, body)


@router.post("/plans", response_model=PlanResponse, responses=problems(*AUTHED, 404, 503))
async def create_plan(body: PlanRequest, request: Request, state: ModelDep, metrics: MetricsDep) -> PlanResponse:
    """The allocation of trainings to employees that maximises total expected gain within the budget."""
    # A solve of up to its time limit: the plan line and its own threads (serving.compute), neither the
    # per-employee model line nor the default thread pool; 503 with Retry-After when that line is full.
    answer = await run_plan(request, _plan, state, body, request)
    employees = answer.scope["employees"]
    request.state.audit_count = employees
    metrics.predictions.labels("plan").inc(employees)
    return answer
