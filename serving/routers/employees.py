"""One employee of the store: profile, predicted gaps, recommended trainings.

The handlers are `async def`: their work runs in one worker thread, so a request makes exactly one
thread hop, and the engine's answer is the route's response model (pydantic writes it straight to JSON).
Gaps and recommendations go through `run_model` (the model limiter, see serving.compute); the profile is a
dictionary lookup (serving.profile), so it takes the default thread pool and does not wait behind queued
model calls.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from engine.results import EmployeeGaps, EmployeeRecommendations
from features.values import MAX_RUPIAH
from serving.compute import run_model
from serving.deps import HorizonQuery, LangQuery, MetricsDep, ModelDep, SnapshotDep, require_role
from serving.routers._common import AUTHED, problems
from serving.runtime import ServingState
from serving.schemas import EXAMPLE_NIP, MAX_RECOMMENDATIONS, NIP_PATTERN, EmployeeProfile

router = APIRouter(prefix="/v1/employees", tags=["employees"], dependencies=[Depends(require_role("reader"))])

NipPath = Annotated[str, Path(pattern=NIP_PATTERN, description="18-digit NIP", examples=[EXAMPLE_NIP])]


def _profile(state: ServingState, nip: str) -> dict[str, Any]:
    from serving.profile import employee_profile as build  # pandas is imported on first use, not at start

    assert state.export is not None
    return {**build(state.export, nip), "model_version": state.model_version}


@router.get("/{nip}", response_model=EmployeeProfile, responses=problems(*AUTHED, 404, 503))
async def employee_profile(nip: NipPath, state: SnapshotDep) -> dict[str, Any]:
    """Profile (no protected attributes), position, current levels and JP completed this year."""
    return await run_in_threadpool(_profile, state, nip)


def _gaps(state: ServingState, nip: str, horizon_months: int, lang: str) -> EmployeeGaps:
    return state.predictor.gaps(state.export, nip, horizon_months=horizon_months, lang=lang)


@router.get("/{nip}/gaps", response_model=EmployeeGaps, responses=problems(*AUTHED, 404, 503))
async def employee_gaps(
    request: Request,
    nip: NipPath,
    state: ModelDep,
    metrics: MetricsDep,
    horizon_months: HorizonQuery = 12,
    lang: LangQuery = "id",
) -> EmployeeGaps:
    """Per required competency: current, predicted level with interval, required level, gap, explanation."""
    body = await run_model(request, _gaps, state, nip, horizon_months, lang)
    metrics.predictions.labels("gaps").inc()
    return body


def _recommendations(state: ServingState, nip: str, **options: Any) -> EmployeeRecommendations:
    return state.predictor.recommend(state.export, nip, **options)


@router.get("/{nip}/recommendations", response_model=EmployeeRecommendations,
            responses=problems(*AUTHED, 404, 503))
async def employee_recommendations(
    request: Request,
    nip: NipPath,
    state: ModelDep,
    metrics: MetricsDep,
    limit: Annotated[int, Query(ge=1, le=MAX_RECOMMENDATIONS, description="at most this many trainings")] = 5,
    max_cost_idr: Annotated[int | None, Query(ge=0, le=MAX_RUPIAH, description="only trainings costing at most this")
                            ] = None,
    max_jp: Annotated[int | None, Query(ge=1, le=10_000, description="only trainings of at most this many JP")] = None,
    horizon_months: HorizonQuery = 12,
    lang: LangQuery = "id",
) -> EmployeeRecommendations:
    """Eligible trainings ranked by expected gain, with the gaps they close, cost, JP, reasons and evidence."""
    body = await run_model(request, _recommendations, state, nip, horizon_months=horizon_months, limit=limit,
                           max_cost_idr=max_cost_idr, max_jp=max_jp, lang=lang)
    metrics.predictions.labels("recommendations").inc()
    return body
