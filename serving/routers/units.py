"""A unit's (OPD's) gaps, employees below standard, JP compliance and learning culture."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from starlette.concurrency import run_in_threadpool

from engine.results import UnitSummary
from serving.deps import HorizonQuery, LangQuery, MetricsDep, ModelDep, require_role
from serving.routers._common import AUTHED, problems
from serving.runtime import ServingState

router = APIRouter(prefix="/v1/units", tags=["planning"], dependencies=[Depends(require_role("planner"))])

UnitPath = Annotated[str, Path(min_length=1, max_length=64, description="unit_id of units.csv")]


def _unit_summary(state: ServingState, unit_id: str, horizon_months: int, lang: str) -> UnitSummary:
    return state.predictor.unit_summary(state.export, unit_id, horizon_months=horizon_months, lang=lang)


@router.get("/{unit_id}/summary", response_model=UnitSummary, responses=problems(*AUTHED, 404, 503))
async def unit_summary(unit_id: UnitPath, state: ModelDep, metrics: MetricsDep, horizon_months: HorizonQuery = 12,
                       lang: LangQuery = "id") -> UnitSummary:
    """Gaps per competency, share below standard, JPM bands, JP compliance, top trainings, learning culture."""
    # A whole unit: the default thread pool, not the per-employee model limiter (serving.compute).
    answer = await run_in_threadpool(_unit_summary, state, unit_id, horizon_months, lang)
    metrics.predictions.labels("unit_summary").inc()
    return answer
