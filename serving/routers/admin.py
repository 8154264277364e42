"""Operations: reload the champion without dropping requests, and read the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from serving.deps import AuditDep, RuntimeDep, StateDep, require_role
from serving.problems import ApiProblem
from serving.routers._common import AUTHED, problems
from serving.runtime import ReloadRefused
from serving.schemas import AuditResponse, ReloadResponse

router = APIRouter(prefix="/v1", tags=["admin"], dependencies=[Depends(require_role("admin"))])

DEFAULT_AUDIT_WINDOW = timedelta(hours=24)


def _utc(moment: datetime) -> datetime:
    """`moment` in UTC (a naive time is taken as UTC, the audit trail's clock); clamped at the calendar's ends."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return (datetime.min if moment.year < 2 else datetime.max).replace(tzinfo=UTC)


@router.post("/admin/reload", response_model=ReloadResponse, responses=problems(*AUTHED, 409))
def reload(runtime: RuntimeDep) -> ReloadResponse:
    """Load the current champion and store snapshot; requests in flight finish on the old ones."""
    try:
        outcome = runtime.reload()
    except ReloadRefused as exc:
        raise ApiProblem(409, f"{exc}. The previous model keeps serving.", slug="reload-refused") from exc
    return ReloadResponse.model_validate(outcome, from_attributes=True)


@router.get("/audit", response_model=AuditResponse, responses=problems(*AUTHED))
def read_audit(
    audit: AuditDep,
    state: StateDep,
    since: Annotated[datetime | None, Query(description="ISO date-time; default: the last 24 hours")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="at most this many entries, oldest first")] = 1000,
) -> dict[str, Any]:
    """Who asked what, when, and which model answered."""
    start = _utc(since) if since is not None else datetime.now(UTC) - DEFAULT_AUDIT_WINDOW
    audit.flush(timeout=2.0)  # so that the caller sees the requests that just finished
    items = audit.read(start, limit + 1)
    return {"model_version": state.model_version, "since": start, "count": min(len(items), limit),
            "truncated": len(items) > limit, "items": items[:limit]}
