"""RFC 9457 problem details: every error the API returns is `application/problem+json`.

One exception type (`ApiProblem`) for errors raised by handlers and dependencies, and handlers that turn
FastAPI's validation errors, Starlette's HTTP errors (unknown route, wrong method), the engine's errors
and anything unexpected into the same body: type, title, status, detail, instance (+ errors for 422).
Nothing from a request body and no stack trace ever reaches a client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.results import EngineError, UnknownEmployee, UnknownPosition, UnknownTraining, UnknownUnit

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
        "instance": request.url.path,
        "model_version": _served_version(request),
    }
    if problem.errors is not None:
        body["errors"] = problem.errors
    return ProblemResponse(body, status_code=problem.status, headers=problem.headers)


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
            detail = f"No resource at {request.url.path}."
        elif status == 405:
            detail = f"Method {request.method} is not allowed on {request.url.path}."
        else:
            detail = str(exc.detail) if exc.detail else _phrase(status)
        return problem_response(request, ApiProblem(status, detail, headers=exc.headers))

    async def on_unexpected(request: Request, exc: Exception) -> ProblemResponse:
        # Logged with its traceback for operators, but never with the request body; the client sees
        # only a generic sentence.
        route = getattr(request.scope.get("route"), "path", "unmatched")
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, route,
                  exc_info=(type(exc), exc, exc.__traceback__))
        return problem_response(request, ApiProblem(500, "An internal error occurred; it has been logged.",
                                                    slug="internal-error"))

    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(EngineError, on_engine_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
