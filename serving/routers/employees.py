"""One employee of the store: profile, predicted gaps, recommended trainings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from serving.convert import plain
from serving.deps import HorizonQuery, LangQuery, MetricsDep, ModelDep, SnapshotDep, require_role
from serving.routers._common import AUTHED, problems
from serving.schemas import (
    EXAMPLE_NIP,
    MAX_RECOMMENDATIONS,
    NIP_PATTERN,
    EmployeeProfile,
    GapsResponse,
    RecommendationsResponse,
)

router = APIRouter(prefix="/v1/employees", tags=["employees"], dependencies=[Depends(require_role("reader"))])

NipPath = Annotated[str, Path(pattern=NIP_PATTERN, description="18-digit NIP", examples=[EXAMPLE_NIP])]


@router.get("/{nip}", response_model=EmployeeProfile, responses=problems(*AUTHED, 404, 503))
def employee_profile(nip: NipPath, state: SnapshotDep) -> dict[str, Any]:
    """Profile (no protected attributes), position, current levels and JP completed this year."""
    from serving.profile import employee_profile as build  # pandas is imported on first use, not at start

    assert state.export is not None
    return {**plain(build(state.export, nip)), "model_version": state.model_version}


@router.get("/{nip}/gaps", response_model=GapsResponse, responses=problems(*AUTHED, 404, 503))
def employee_gaps(
    nip: NipPath,
    state: ModelDep,
    metrics: MetricsDep,
    horizon_months: HorizonQuery = 12,
    lang: LangQuery = "id",
) -> dict[str, Any]:
    """Per required competency: current, predicted level with interval, required level, gap, explanation."""
    result = state.predictor.gaps(state.export, nip, horizon_months=horizon_months, lang=lang)
    metrics.predictions.labels("gaps").inc()
    return plain(result)


@router.get("/{nip}/recommendations", response_model=RecommendationsResponse,
            responses=problems(*AUTHED, 404, 503))
def employee_recommendations(
    nip: NipPath,
    state: ModelDep,
    metrics: MetricsDep,
    limit: Annotated[int, Query(ge=1, le=MAX_RECOMMENDATIONS, description="at most this many trainings")] = 5,
    max_cost_idr: Annotated[int | None, Query(ge=0, description="only trainings costing at most this")] = None,
    max_jp: Annotated[int | None, Query(ge=1, le=10_000, description="only trainings of at most this many JP")] = None,
    horizon_months: HorizonQuery = 12,
    lang: LangQuery = "id",
) -> dict[str, Any]:
    """Eligible trainings ranked by expected gain, with the gaps they close, cost, JP, reasons and evidence."""
    result = state.predictor.recommend(state.export, nip, horizon_months=horizon_months, limit=limit,
                                       max_cost_idr=max_cost_idr, max_jp=max_jp, lang=lang)
    metrics.predictions.labels("recommendations").inc()
    return plain(result)
