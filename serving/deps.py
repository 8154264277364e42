"""Dependencies of the routes, as `Annotated` aliases (overridable in tests with `app.dependency_overrides`).

Order matters for the answers a client sees: the role check runs as a router dependency, before any
endpoint parameter, so a request without a valid key gets 401 (not 503 or 404) whatever else is wrong.

Every dependency here is `async def` on purpose: FastAPI runs a plain `def` dependency in the thread pool,
and each such hop costs a thread hand-off and an event-loop wake-up (~0.1 ms idle, up to a GIL switch
interval, 5 ms, each while model threads are busy). None of them blocks: the key check is a `stat` of the
keys file and a SHA-256, the keys file itself is re-read only when it changed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from features.constants import MAX_HORIZON_MONTHS
from serving.audit import AuditLog
from serving.keys import ROLE_RANK, KeyRecord, KeyStore
from serving.metrics import Metrics
from serving.problems import forbidden, not_ready, unauthorized
from serving.runtime import Runtime, ServingState
from serving.schemas import Lang

bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer <key>`")


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


async def get_audit(request: Request) -> AuditLog:
    return request.app.state.audit


async def get_key_store(request: Request) -> KeyStore:
    return request.app.state.key_store


async def get_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    store: Annotated[KeyStore, Depends(get_key_store)],
) -> KeyRecord:
    """The caller's key; 401 when the header is missing or the key unknown."""
    if credentials is None:
        raise unauthorized("Missing API key: send `Authorization: Bearer <key>`.")
    record = store.verify(credentials.credentials)
    if record is None:  # unknown, revoked or expired: the answer says which (only a key's holder can ask)
        raise unauthorized(store.refusal(credentials.credentials))
    request.state.key_id = record.key_id  # for the audit trail and the access log (never the secret)
    return record


KeyDep = Annotated[KeyRecord, Depends(get_key)]


def require_role(role: str) -> Callable[[KeyRecord], Awaitable[KeyRecord]]:
    """A dependency that admits keys whose role is at least `role` (reader < planner < admin)."""
    if role not in ROLE_RANK:
        raise ValueError(f"unknown role {role!r}")

    async def check(key: KeyDep) -> KeyRecord:
        if not key.allows(role):
            raise forbidden(f"This route needs the {role} role; key {key.key_id} has the {key.role} role.")
        return key

    check.__name__ = f"require_{role}"
    return check


async def get_state(request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]) -> ServingState:
    """The (model, snapshot) pair for this whole request, taken once: a reload cannot change it midway."""
    state = runtime.current
    request.state.model_version = state.model_version
    return state


StateDep = Annotated[ServingState, Depends(get_state)]


async def require_snapshot(state: StateDep) -> ServingState:
    if state.export is None:
        raise not_ready("No store snapshot is loaded: ingest an export, then reload.")
    return state


async def require_model(state: StateDep) -> ServingState:
    if state.predictor is None:
        raise not_ready("No model is loaded: promote a champion, then reload.")
    if state.export is None:
        raise not_ready("No store snapshot is loaded: ingest an export, then reload.")
    return state


SnapshotDep = Annotated[ServingState, Depends(require_snapshot)]
ModelDep = Annotated[ServingState, Depends(require_model)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
AuditDep = Annotated[AuditLog, Depends(get_audit)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

LangQuery = Annotated[Lang, Query(description="language of names and sentences: id (default) or en")]
HorizonQuery = Annotated[int, Query(ge=1, le=MAX_HORIZON_MONTHS,
                                    description=f"months after the as-of date (1–{MAX_HORIZON_MONTHS})")]
