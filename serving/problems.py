"""RFC 9457 problem details: every error the API returns is `application/problem+json`.

One exception type (`ApiProblem`) for errors raised by handlers and dependencies, and handlers that turn
FastAPI's validation errors, Starlette's HTTP errors (unknown route, wrong method), the engine's errors
and anything unexpected into the same body: type, title, status, detail, instance (+ errors for 422).
Nothing from a request body and no stack trace ever reaches a client, and a NIP in a path is shown
masked (`features.values.mask_nips_in`): its digits encode the birth date and sex.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.results import EngineError, UnknownEmployee, UnknownPosition, UnknownTraining, UnknownUnit
from features.values import mask_nips_in

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:asn-kompetensi:problem:"

log = logging.getLogger("serving.errors")


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


class ApiProblem(Exception):
    """An error answer: raised anywhere in a request, rendered as problem+json by `install_handlers`."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug
        self.title = title
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers) if headers else None


def unauthorized(detail: str) -> ApiProblem:
    return ApiProblem(401, detail, slug="unauthorized", headers={"WWW-Authenticate": "Bearer"})


def forbidden(detail: str) -> ApiProblem:
    return ApiProblem(403, detail, slug="forbidden")


def not_ready(detail: str) -> ApiProblem:
    return ApiProblem(503, detail, slug="model-not-loaded", headers={"Retry-After": "5"})


def _served_version(request: Request) -> str | None:
    runtime = getattr(request.app.state, "runtime", None)
    return runtime.current.model_version if runtime is not None else None


def problem_response(request: Request, problem: ApiProblem) -> ProblemResponse:
    """The problem+json response; `model_version` names the model being served (null when none)."""
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + problem.slug if problem.slug else "about:blank",
        "title": problem.title or _phrase(problem.status),
        "status": problem.status,
        "detail": problem.detail,
        "instance": shown_path(request),
        "model_version": _served_version(request),
    }
    if problem.errors is not None:
        body["errors"] = problem.errors
    return ProblemResponse(body, status_code=problem.status, headers=problem.headers)


def shown_path(request: Request) -> str:
    """The request's path as an answer may show it: NIP-like digit runs masked, at most 200 characters."""
    path = mask_nips_in(request.url.path)
    return path if len(path) <= 200 else path[:199] + "…"


def shown_method(request: Request) -> str:
    """The request's method as a detail or a log line may show it: a client may invent one of 8 KB."""
    method = request.method
    return method if len(method) <= 16 else method[:15] + "…"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """[{field, location, message}] from FastAPI's errors; the offending input is never echoed back."""
    out = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        location = loc[0] if loc else "request"
        field = ".".join(loc[1:]) or location
        out.append({"field": field, "location": location, "message": str(err.get("msg", "invalid value"))})
    return out


_ENGINE_SLUGS: tuple[tuple[type[EngineError], str], ...] = (
    (UnknownEmployee, "unknown-employee"),
    (UnknownTraining, "unknown-training"),
    (UnknownPosition, "unknown-position"),
    (UnknownUnit, "unknown-unit"),
)


def engine_problem(exc: EngineError, request: Request | None = None) -> ApiProblem:
    """Map an engine error to its problem: unknown things are 404, bad input is 422 naming the field."""
    for kind, slug in _ENGINE_SLUGS:
        if isinstance(exc, kind):
            return ApiProblem(404, str(exc), slug=slug)
    field = exc.field or "request"
    location = "body"
    if request is not None:
        if field in request.path_params:
            location = "path"
        elif request.method == "GET" or field in request.query_params:
            location = "query"
    return ApiProblem(
        422, str(exc), slug="invalid-input",
        errors=[{"field": field, "location": location, "message": str(exc)}],
    )


def install_handlers(app: FastAPI) -> None:
    """Register the problem+json handlers on `app`."""

    async def on_problem(request: Request, exc: Exception) -> ProblemResponse:
        assert isinstance(exc, ApiProblem)
        return problem_response(request, exc)

    async def on_engine_error(request: Request, exc: Exception) -> ProblemResponse:
        assert isinstance(exc, EngineError)
        return await on_problem(request, engine_problem(exc, request))

    async def on_validation(request: Request, exc: Exception) -> ProblemResponse:
        assert isinstance(exc, RequestValidationError)
        errors = validation_errors(exc)
        fields = ", ".join(sorted({f"{e['field']} ({e['location']})" for e in errors}))
        return problem_response(request, ApiProblem(422, f"Invalid input: {fields}.", slug="invalid-input",
                                                    errors=errors))

    async def on_http(request: Request, exc: Exception) -> ProblemResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        if status == 400:
            # FastAPI's "error parsing the body" (e.g. bytes that are not UTF-8 JSON): invalid input, so
            # the same 422 as any other malformed body.
            message = str(exc.detail) if exc.detail else "The body could not be parsed."
            return problem_response(request, ApiProblem(
                422, f"Invalid input: body ({message}).", slug="invalid-input",
                errors=[{"field": "body", "location": "body", "message": message}]))
        if status == 404:
            detail = f"No resource at {shown_path(request)}."
        elif status == 405:
            detail = f"Method {shown_method(request)} is not allowed on {shown_path(request)}."
        else:
            detail = str(exc.detail) if exc.detail else _phrase(status)
        return problem_response(request, ApiProblem(status, detail, headers=exc.headers))

    async def on_unexpected(request: Request, exc: Exception) -> ProblemResponse:
        return unexpected_response(request, exc)

    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(EngineError, on_engine_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


def unexpected_response(request: Request, exc: BaseException) -> ProblemResponse:
    """The 500 problem for an exception nothing handled, logged once with its traceback for operators:
    never the request body, NIP-like digit runs masked (an exception's text may quote a NIP). The client
    sees only a generic sentence."""
    route = getattr(request.scope.get("route"), "path", "unmatched")
    method = shown_method(request)
    trace = mask_nips_in("".join(traceback.format_exception(exc)).rstrip())
    log.error("unhandled %s on %s %s\n%s", type(exc).__name__, method, route, trace)
    return problem_response(request, ApiProblem(500, "An internal error occurred; it has been logged.",
                                                slug="internal-error"))


class UnexpectedErrors:
    """The innermost middleware: an exception no handler took becomes the 500 problem here, and stops here.

    Starlette runs an `Exception` handler in its outermost middleware, which answers and then re-raises,
    so that uvicorn logged every such traceback a second time ("Exception in ASGI application"). The
    handler registered by `install_handlers` still answers what the outer middlewares raise."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception as exc:
            response = unexpected_response(Request(scope, receive), exc)
            if not started:  # otherwise the client has a status already: the log line is all there is
                await response(scope, receive, send)
