"""A unit's (OPD's) gaps, employees below standard and JP compliance."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from serving.convert import plain
from serving.deps import HorizonQuery, LangQuery, MetricsDep, ModelDep, require_role
from serving.routers._common import AUTHED, problems
from serving.schemas import UnitSummaryResponse

router = APIRouter(prefix="/v1/units", tags=["planning"], dependencies=[Depends(require_role("planner"))])

UnitPath = Annotated[str, Path(min_length=1, max_length=64, description="unit_id of units.csv")]


@router.get("/{unit_id}/summary", response_model=UnitSummaryResponse, responses=problems(*AUTHED, 404, 503))
def unit_summary(unit_id: UnitPath, state: ModelDep, metrics: MetricsDep, horizon_months: HorizonQuery = 12,
                 lang: LangQuery = "id") -> dict[str, Any]:
    """Gaps per competency, share below standard, JPM bands, JP compliance and the most useful trainings."""
    result = state.predictor.unit_summary(state.export, unit_id, horizon_months=horizon_months, lang=lang)
    metrics.predictions.labels("unit_summary").inc()
    return plain(result)
