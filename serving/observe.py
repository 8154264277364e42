"""One pure-ASGI middleware that observes every request once it is answered: metrics, access log, audit.

It reads what routing and the dependencies left in the ASGI scope (the matched route's template, the
key id, the model version that answered) and never the request body. The access log names the route
template, not the path, so a NIP never reaches a log line.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.audit import AuditLog, AuditRecord
from serving.metrics import Metrics, method_label

access_log = logging.getLogger("serving.access")

# Routes whose every answer is recorded in the audit trail (INTERFACES.md: who asked what, when).
AUDITED_ROUTES = frozenset({
    "/v1/employees/{nip}",
    "/v1/employees/{nip}/gaps",
    "/v1/employees/{nip}/recommendations",
    "/v1/predictions/gaps",
    "/v1/recommendations:batch",
    "/v1/whatif",
    "/v1/plans",
    "/v1/units/{unit_id}/summary",
})


def route_template(scope: Scope) -> str:
    """The matched route's template; for a request refused before routing (serving.limits), the template
    the guard found; otherwise "unmatched" (one label for every path no route takes)."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    guarded = (scope.get("state") or {}).get("route_template")
    return guarded if isinstance(guarded, str) else "unmatched"


class RequestObserver:
    """Records latency and status per route template, writes the access log line and the audit record."""

    def __init__(self, app: ASGIApp, metrics: Metrics, audit: AuditLog) -> None:
        self.app = app
        self.metrics = metrics
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})  # so what dependencies store in request.state is visible here
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            self._observe(scope, status, time.perf_counter() - started)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        method = str(scope.get("method", ""))
        route = route_template(scope)
        state: dict[str, Any] = scope.get("state") or {}
        self.metrics.observe_request(method, route, status, seconds)
        key_id = state.get("key_id")
        # The method as labelled (a client's invented method is `other`): a log line is bounded too.
        access_log.info("%s %s %d %.1fms key=%s", method_label(method), route, status, seconds * 1000,
                        key_id or "-")
        if route in AUDITED_ROUTES:
            path_params = scope.get("path_params") or {}
            nip = state.get("audit_nip") or path_params.get("nip")
            self.audit.record(AuditRecord(
                at=datetime.now(UTC), key_id=key_id, method=method, route=route,
                nip=str(nip)[:32] if nip is not None else None, nips_count=state.get("audit_count"),
                model_version=state.get("model_version"), status=status, latency_ms=round(seconds * 1000, 3),
                inputs=state.get("audit_inputs"),
            ))
