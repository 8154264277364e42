"""Liveness, readiness and Prometheus metrics: no key needed (`async def`: nothing here blocks, no thread hop)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from serving.deps import MetricsDep, StateDep
from serving.problems import ApiProblem, not_ready
from serving.readiness import store_probe
from serving.routers._common import problems
from serving.schemas import HealthResponse, ReadyResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthResponse)
async def healthz(state: StateDep) -> HealthResponse:
    """The process is alive."""
    return HealthResponse(model_version=state.model_version)


@router.get("/readyz", response_model=ReadyResponse, responses=problems(503))
async def readyz(state: StateDep, request: Request) -> ReadyResponse:
    """Ready when a model and a store snapshot are loaded and the store answers, else 503."""
    if state.predictor is None or state.model_version is None:
        refusal = request.app.state.runtime.last_refusal
        # The outcome only: the reason (an exception text) is for operators (log, GET /v1/models), not anyone.
        why = f" Champion {refusal.candidate_version} was refused ({refusal.outcome})." if refusal else ""
        raise not_ready("No model is loaded." + why)
    if state.export is None:
        raise not_ready("No store snapshot is loaded.")
    store = await store_probe(request.app).health()
    if not store.reachable:
        # The loaded snapshot still answers, but audit records wait and nothing new can be loaded.
        raise ApiProblem(503, f"The store is not reachable: {store.reason}.", slug="store-unavailable",
                         headers={"Retry-After": "5"})
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
