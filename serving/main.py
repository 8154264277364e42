"""The HTTP API: `create_app()` builds it, `serve()` runs it under uvicorn (INTERFACES.md "HTTP API").

Nothing happens at import: the lifespan loads the champion bundle and the store snapshot into
`app.state.runtime` once, starts the audit writer, the champion poller and the keys' last-use flush, and
stops them on shutdown (the audit writer and the flush write what they hold first).
This module imports no numpy, so `serve()` can still set `OMP_NUM_THREADS=1` before anything loads an
OpenMP runtime (STACK_NOTES.md: oversubscription stalls a 2-core server for seconds).
"""

from __future__ import annotations

import copy
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from threadpoolctl import threadpool_limits
from uvicorn.config import LOGGING_CONFIG

from features.settings import Settings, get_settings
from serving.audit import AuditLog
from serving.keys import KeyStore
from serving.limits import BodyGuard
from serving.metrics import Metrics
from serving.observe import RequestObserver
from serving.problems import PROBLEM_MEDIA_TYPE, UnexpectedErrors, install_handlers
from serving.routers import (
    admin,
    employees,
    health,
    models,
    plans,
    predictions,
    recommendations,
    ui,
    units,
    whatif,
)
from serving.runtime import Runtime, Sources, default_sources
from serving.store_source import engine

log = logging.getLogger("serving")

API_TITLE = "asn-kompetensi API"
API_VERSION = "1"
POLL_FROM_ENVIRONMENT = -1.0  # create_app's default: settings.poll_seconds (KOMPETENSI_POLL_SECONDS)
DOCS_STATIC_URL = "/static/docs"
STATIC_PREFIXES = ("/ui/", DOCS_STATIC_URL + "/")
STATIC_GZIP_MIN_BYTES = 2048
API_GZIP_MIN_BYTES = 64 * 1024
API_DESCRIPTION = """Competency gaps and training recommendations for ASN (Kota Pontianak).

Authenticate with `Authorization: Bearer <key>` (`kompetensi keys create --role reader|planner|admin`).
Roles: reader (HR systems), planner (reader + what-if, unit summaries), admin (everything + reload, audit).
Errors are `application/problem+json` (RFC 9457). Sentences are Indonesian by default; `lang=en` for English.
"""


def create_app(
    settings: Settings | None = None,
    *,
    poll_seconds: float | None = POLL_FROM_ENVIRONMENT,
    sources: Sources | None = None,
    model_concurrency: int | None = None,
) -> FastAPI:
    """The API app. `poll_seconds`: None or 0 turns the champion/snapshot poller off (reload is then
    manual through POST /v1/admin/reload); the default is `settings.poll_seconds` (KOMPETENSI_POLL_SECONDS,
    5 s). `model_concurrency`: per-employee model calls at once (default `settings.model_concurrency`,
    KOMPETENSI_MODEL_CONCURRENCY, 1)."""
    settings = settings or get_settings()
    if poll_seconds == POLL_FROM_ENVIRONMENT:
        poll_seconds = settings.poll_seconds
    metrics = Metrics()
    runtime = Runtime(settings.models_dir, sources or default_sources(settings), metrics)

    def audit_engine() -> Any:

        return engine(settings)

    audit = AuditLog(audit_engine, max_queue=settings.audit_queue_size,
                     retry_seconds=settings.audit_retry_seconds, on_drop=metrics.audit_dropped.inc,
                     on_fail=metrics.audit_failed.inc, on_retry=metrics.audit_retries.inc)
    key_store = KeyStore(settings.keys_file)

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        app_.state.work_lines = None  # made anew in this event loop on first use (serving.compute)
        await run_in_threadpool(runtime.load_initial)
        audit.start()
        app_.state.key_store.start_flushing()  # keys' last-used times: written every minute, not per request
        if poll_seconds:
            runtime.start_polling(poll_seconds)
        try:
            yield
        finally:
            runtime.stop_polling()
            await run_in_threadpool(app_.state.key_store.stop_flushing)
            await run_in_threadpool(audit.close)

    app = FastAPI(title=API_TITLE, version=API_VERSION, description=API_DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.runtime = runtime
    app.state.audit = audit
    app.state.key_store = key_store
    app.state.model_concurrency = model_concurrency or settings.model_concurrency

    install_handlers(app)
    for module in (health, models, employees, predictions, recommendations, whatif, units, plans, admin, ui):
        app.include_router(module.router)
    _install_docs(app)
    # Outermost last: the observer sees every answer, the body guard's 401/413 included; the guard runs
    # before anything reads a body; unexpected errors are answered (and logged once) innermost.
    app.add_middleware(UnexpectedErrors)
    app.add_middleware(ScopedGZip)
    app.add_middleware(BodyGuard, max_body_bytes=settings.max_body_bytes, openapi=lambda: app.openapi(),
                       key_store=lambda: app.state.key_store)
    app.add_middleware(RequestObserver, metrics=metrics, audit=audit)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/")
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


class ScopedGZip:
    """GZip where it pays: the UI's and the docs' static files (plotly.js is 4.8 MB) from 2 KiB, API answers
    only from 64 KiB (plans, batches). Compressing every 2–25 KiB JSON answer cost the event loop ~0.4 ms
    per request (level 9) and the client as much again, for loopback and LAN clients that gain nothing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.static = GZipMiddleware(app, minimum_size=STATIC_GZIP_MIN_BYTES)
        self.api = GZipMiddleware(app, minimum_size=API_GZIP_MIN_BYTES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif str(scope.get("path", "")).startswith(STATIC_PREFIXES):
            await self.static(scope, receive, send)
        else:
            await self.api(scope, receive, send)


def _install_docs(app: FastAPI) -> None:
    """/docs and /redoc from files shipped in the `fastapi-offline` package: no CDN, works offline."""
    static = files("fastapi_offline") / "static"
    app.mount(DOCS_STATIC_URL, StaticFiles(directory=str(static)), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}/openapi.json", title=f"{API_TITLE} — docs",
            swagger_js_url=f"{root}{DOCS_STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_STATIC_URL}/favicon.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(openapi_url=f"{root}/openapi.json", title=f"{API_TITLE} — ReDoc",
                              redoc_js_url=f"{root}{DOCS_STATIC_URL}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}{DOCS_STATIC_URL}/favicon.png", with_google_fonts=False)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with every error answer declared as application/problem+json of `Problem`."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if "requestBody" in operation:  # serving.limits: KOMPETENSI_MAX_BODY_BYTES
                operation.setdefault("responses", {})["413"] = {"description": "The body exceeds the size limit"}
            for status, response in operation.get("responses", {}).items():
                if str(status).isdigit() and int(status) >= 400:
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": problem_ref}}
                    if str(status) == "422":
                        response["description"] = "Invalid input; `errors` names the fields"
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    app.openapi_schema = schema
    return schema


# ---------------------------------------------------------------------------------------------------
# Running the server
# ---------------------------------------------------------------------------------------------------
def _log_config(level: str) -> dict[str, Any]:

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["serving"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config


def limit_native_threads() -> None:
    """One thread per native pool (OpenMP, OpenBLAS, MKL) in this process: the variables for pools that
    start later, and threadpoolctl's cap for those already loaded (the `kompetensi` command imports numpy
    and LightGBM before it reaches `serve`). Several threads per request oversubscribe the cores under
    concurrent load (STACK_NOTES.md): scale with `workers` instead."""
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    if any(name in sys.modules for name in ("numpy", "sklearn", "lightgbm")):
        threadpool_limits(limits=1)


def serve(host: str = "127.0.0.1", port: int = 8000, *, workers: int = 1, log_level: str = "info") -> None:
    """Run the API under uvicorn: one thread per native pool, scale with `workers` (processes).

    `limit_concurrency` (KOMPETENSI_LIMIT_CONCURRENCY) bounds the connections and tasks of a worker, a last
    line behind the app's own bounded lines (serving.compute), whose 503s carry Retry-After and are
    problem+json; `timeout_keep_alive` (KOMPETENSI_TIMEOUT_KEEP_ALIVE) closes idle keep-alive connections,
    so idle clients do not hold slots of that limit."""
    limit_native_threads()
    settings = get_settings()
    # The access log is ours (route templates, key ids): uvicorn's would print paths, i.e. NIPs.
    uvicorn.run("serving.main:create_app", factory=True, host=host, port=port, workers=workers,
                access_log=False, log_config=_log_config(log_level), log_level=log_level,
                limit_concurrency=settings.limit_concurrency, timeout_keep_alive=settings.timeout_keep_alive)

