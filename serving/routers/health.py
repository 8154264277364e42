"""Liveness, readiness and Prometheus metrics: no key needed (`async def`: nothing here blocks, no thread hop)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from serving.deps import MetricsDep, StateDep
from serving.problems import not_ready
from serving.routers._common import problems
from serving.schemas import HealthResponse, ReadyResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthResponse)
async def healthz(state: StateDep) -> HealthResponse:
    """The process is alive."""
    return HealthResponse(model_version=state.model_version)


@router.get("/readyz", response_model=ReadyResponse, responses=problems(503))
async def readyz(state: StateDep) -> ReadyResponse:
    """Ready when a model and a store snapshot are loaded, else 503."""
    if state.predictor is None or state.model_version is None:
        raise not_ready("No model is loaded.")
    if state.export is None:
        raise not_ready("No store snapshot is loaded.")
    return ReadyResponse(model_version=state.model_version, snapshot_id=state.snapshot_id)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                     "description": "Prometheus text exposition format"}},
)
async def metrics(metrics: MetricsDep) -> Response:
    """Prometheus metrics: requests and latency per route, model version, reloads, predictions served."""
    body, content_type = metrics.render()
    return Response(content=body, media_type=content_type)
