"""Gaps for an employee sent inline, for systems that do not share the store."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from engine.results import EmployeeGaps
from serving.compute import run_model
from serving.deps import LangQuery, MetricsDep, ModelDep, require_role
from serving.routers._common import AUTHED, problems
from serving.runtime import ServingState
from serving.schemas import GapPredictionRequest

router = APIRouter(prefix="/v1", tags=["predictions"], dependencies=[Depends(require_role("reader"))])


def _gaps_inline(state: ServingState, body: GapPredictionRequest, lang: str) -> EmployeeGaps:
    return state.predictor.gaps_inline(
        state.export,
        body.employee.model_dump(),
        [row.model_dump() for row in body.assessments],
        [row.model_dump() for row in body.performance_reviews],
        [row.model_dump() for row in body.training_records],
        as_of=body.as_of,
        horizon_months=body.horizon_months,
        lang=lang,
    )


@router.post("/predictions/gaps", response_model=EmployeeGaps, responses=problems(*AUTHED, 404, 503))
async def predict_gaps(body: GapPredictionRequest, request: Request, state: ModelDep, metrics: MetricsDep,
                       lang: LangQuery = "id") -> EmployeeGaps:
    """The …/gaps answer for an employee sent inline (profile and histories, no NIP needed)."""
    answer = await run_model(request, _gaps_inline, state, body, lang)
    metrics.predictions.labels("gaps_inline").inc()
    return answer
