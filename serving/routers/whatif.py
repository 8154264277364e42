"""What-if: one employee's baseline against a scenario (a plan of trainings, optionally another position)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from serving.convert import plain
from serving.deps import LangQuery, MetricsDep, ModelDep, require_role
from serving.routers._common import AUTHED, problems
from serving.schemas import WhatIfRequest, WhatIfResponse

router = APIRouter(prefix="/v1", tags=["planning"], dependencies=[Depends(require_role("planner"))])


@router.post("/whatif", response_model=WhatIfResponse, responses=problems(*AUTHED, 404, 503))
def whatif(body: WhatIfRequest, request: Request, state: ModelDep, metrics: MetricsDep,
           lang: LangQuery = "id") -> dict[str, Any]:
    """Baseline vs scenario per competency and in total."""
    request.state.audit_nip = body.nip
    result = state.predictor.whatif(state.export, body.nip, plan=tuple(body.plan), position_id=body.position_id,
                                    horizon_months=body.horizon_months, lang=lang)
    metrics.predictions.labels("whatif").inc()
    return plain(result)
