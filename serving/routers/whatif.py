"""What-if: one employee's baseline against a scenario (a plan of trainings, optionally another position)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from engine.results import WhatIf
from serving.compute import run_model
from serving.deps import LangQuery, MetricsDep, ModelDep, require_role
from serving.routers._common import AUTHED, problems
from serving.runtime import ServingState
from serving.schemas import WhatIfRequest

router = APIRouter(prefix="/v1", tags=["planning"], dependencies=[Depends(require_role("planner"))])


def _whatif(state: ServingState, body: WhatIfRequest, lang: str) -> WhatIf:
    return state.predictor.whatif(state.export, body.nip, plan=tuple(body.plan), position_id=body.position_id,
                                  horizon_months=body.horizon_months, lang=lang)


@router.post("/whatif", response_model=WhatIf, responses=problems(*AUTHED, 404, 503))
async def whatif(body: WhatIfRequest, request: Request, state: ModelDep, metrics: MetricsDep,
                 lang: LangQuery = "id") -> WhatIf:
    """Baseline vs scenario per competency and in total."""
    request.state.audit_nip = body.nip
    answer = await run_model(request, _whatif, state, body, lang)
    metrics.predictions.labels("whatif").inc()
    return answer
