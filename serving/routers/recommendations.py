"""Recommendations for many employees in one call (HR systems, nightly jobs)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from engine.results import EmployeeRecommendations, EngineError
from serving.deps import LangQuery, MetricsDep, ModelDep, require_role
from serving.problems import engine_problem
from serving.routers._common import AUTHED, problems
from serving.runtime import ServingState
from serving.schemas import (
    NIP_PATTERN,
    BatchItemError,
    BatchItemFailure,
    BatchRecommendationsItem,
    BatchRecommendationsRequest,
    BatchRecommendationsResponse,
)

router = APIRouter(prefix="/v1", tags=["recommendations"], dependencies=[Depends(require_role("reader"))])

_NIP = re.compile(NIP_PATTERN)
BatchItem = BatchRecommendationsItem | BatchItemFailure


def _answered(result: EmployeeRecommendations) -> BatchRecommendationsItem:
    return BatchRecommendationsItem(**vars(result))


def _failed(nip: str, model_version: str, status: int, title: str, detail: str) -> BatchItemFailure:
    return BatchItemFailure(nip=nip, model_version=model_version, error=BatchItemError(status, title, detail))


def batch_recommendations(state: ServingState, body: BatchRecommendationsRequest, lang: str) -> list[BatchItem]:
    """One item per requested NIP, in request order; NIPs that cannot be answered get an error item."""
    assert state.export is not None and state.model_version is not None
    version = state.model_version
    known = set(state.export["employees"]["nip"].astype(str))
    wanted = list(dict.fromkeys(body.nips))  # each NIP answered once, even if listed twice
    answers: dict[str, BatchItem] = {}
    for nip in wanted:
        if not _NIP.fullmatch(nip):
            answers[nip] = _failed(nip, version, 422, "Invalid NIP", "A NIP has 18 digits.")
        elif nip not in known:
            answers[nip] = _failed(nip, version, 404, "Unknown employee",
                                   "No employee with this NIP in the loaded snapshot.")
    todo = [nip for nip in wanted if nip not in answers]
    options = {"limit": body.limit, "horizon_months": body.horizon_months, "max_cost_idr": body.max_cost_idr,
               "max_jp": body.max_jp, "lang": lang}
    if todo:
        try:
            results = state.predictor.recommend_many(state.export, todo, **options)
            for result in results:
                answers[str(result.nip)] = _answered(result)
        except EngineError:
            # One NIP the engine refuses must not fail the others: answer them one by one.
            for nip in todo:
                try:
                    answers[nip] = _answered(state.predictor.recommend(state.export, nip, **options))
                except EngineError as exc:
                    problem = engine_problem(exc)
                    answers[nip] = _failed(nip, version, problem.status, type(exc).__name__, str(exc))
    return [answers[nip] for nip in body.nips]


@router.post("/recommendations:batch", response_model=BatchRecommendationsResponse,
             responses=problems(*AUTHED, 503))
async def recommendations_batch(body: BatchRecommendationsRequest, request: Request, state: ModelDep,
                                metrics: MetricsDep, lang: LangQuery = "id") -> dict[str, Any]:
    """Recommendations for up to 1,000 NIPs; unknown NIPs are reported per item."""
    request.state.audit_count = len(body.nips)
    # Up to 1,000 employees: the default thread pool, not the per-employee model limiter (serving.compute).
    items = await run_in_threadpool(batch_recommendations, state, body, lang)
    failed = sum(1 for item in items if isinstance(item, BatchItemFailure))
    metrics.predictions.labels("recommendations").inc(len(items) - failed)
    return {"model_version": state.model_version, "count": len(items), "failed": failed, "items": items}
