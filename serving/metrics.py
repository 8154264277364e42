"""Prometheus metrics, one registry per app (so two apps in one process, e.g. in tests, do not clash).

Every label value comes from a closed set, whatever a client sends (an invented 8 KB method per request
grew /metrics to 284 MB): route templates (`/v1/employees/{nip}/gaps`), never concrete paths, so a NIP
never becomes a label value, and one `unmatched` for every path no route takes; the standard HTTP methods
and one `other`; the standard status codes and a class (`5xx`) for anything else.
"""

from __future__ import annotations

from http import HTTPStatus

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
OTHER_METHOD = "other"
HTTP_STATUSES = frozenset(status.value for status in HTTPStatus)
DRIFT_STATUS_LEVELS = {"ok": 0, "warning": 1, "alert": 2}  # anything else (unknown, pending) is -1
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The app's collectors; `render()` gives the exposition body and its content type."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kompetensi_http_requests", "HTTP requests by route template, method and status",
            ["method", "route", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "kompetensi_http_request_duration_seconds", "HTTP request latency by route template",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.model = Info("kompetensi_model", "The model being served", registry=self.registry)
        self.model_loaded = Gauge(
            "kompetensi_model_loaded", "1 when a model and a store snapshot are loaded", registry=self.registry,
        )
        self.reloads = Counter(
            "kompetensi_model_reloads", "Model/snapshot reload attempts by outcome",
            ["outcome"], registry=self.registry,
        )
        self.predictions = Counter(
            "kompetensi_predictions_served", "Employees answered by kind (gaps, recommendations, ...)",
            ["kind"], registry=self.registry,
        )
        self.requests_shed = Counter(
            "kompetensi_requests_shed", "Requests refused by a bounded work line (serving.compute): line "
            "model|plan, reason full|timeout|disconnected", ["line", "reason"], registry=self.registry,
        )
        self.audit_dropped = Counter(
            "kompetensi_audit_dropped", "Audit records dropped because the writer queue was full",
            registry=self.registry,
        )
        self.audit_failed = Counter(
            "kompetensi_audit_write_failures", "Audit records not written: refused by the store one by one, or "
            "the store stayed busy or down for the whole retry window (serving.audit)", registry=self.registry,
        )
        self.audit_retries = Counter(
            "kompetensi_audit_write_retries", "Audit writes tried again because the store was busy or down",
            registry=self.registry,
        )
        self.drift_psi = Gauge(
            "kompetensi_drift_psi", "Population stability index of each feature (and \"prediction\") between "
            "the served model's training population and the current store snapshot",
            ["feature"], registry=self.registry,
        )
        self.drift_status = Gauge(
            "kompetensi_drift_status", "Drift status of the served pair: 0 ok, 1 warning, 2 alert, "
            "-1 unknown or pending", registry=self.registry,
        )
        self.drift_status.set(-1)
        self.model_loaded.set(0)
        self.model.info({"model_version": "", "snapshot_id": ""})

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count and time one answer; `route` must be a template or "unmatched" (`serving.observe`)."""
        method = method_label(method)
        self.requests.labels(method, route, status_label(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def set_served(self, model_version: str | None, snapshot_id: str | None, ready: bool) -> None:
        self.model.info({"model_version": model_version or "", "snapshot_id": snapshot_id or ""})
        self.model_loaded.set(1 if ready else 0)

    def set_drift(self, status: str, psi: dict[str, float | None]) -> None:
        """Replace the drift gauges: the old pair's features are removed, missing (None) PSIs not exposed."""
        self.drift_status.set(DRIFT_STATUS_LEVELS.get(status, -1))
        self.drift_psi.clear()
        for feature, value in psi.items():
            if value is not None:
                self.drift_psi.labels(feature).set(value)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def method_label(method: str) -> str:
    """The method as a label: a standard one as it is, anything else `other`."""
    return method if method in HTTP_METHODS else OTHER_METHOD


def status_label(status: int) -> str:
    """The status as a label: a standard code as it is, anything else its class (`5xx`, or `xxx`)."""
    if status in HTTP_STATUSES:
        return str(status)
    return f"{status // 100}xx" if 100 <= status <= 599 else "xxx"
