"""The request body's guard, a pure ASGI middleware: bounded, and read only for a caller with a valid key.

Before this, FastAPI read and parsed a whole body before any dependency ran: a 300 MB POST without a key
was read and parsed (RSS 357 MB → 2.2 GB) and only then answered 401, and malformed JSON without a key
was answered 422. Here, before the app sees the request:
1. a declared `Content-Length` above `Settings.max_body_bytes` is answered 413 at once;
2. a request that carries a body (a `Content-Length` above 0, or chunked) to an operation that needs a
   key is answered 401 unless its bearer key is valid (the same `KeyStore.verify` as
   `serving.deps.get_key`, which still checks the role afterwards), without reading a byte of the body;
3. the body is counted as it streams (`http.request` messages): past the limit the app stops receiving,
   whatever it answers is dropped, and the client gets 413.
Requests without a body (GETs) pass straight through: their key is checked by the route's dependency.

Which operations need a key is read from the app's own OpenAPI document (an operation with `security`),
the published contract, rather than from the router's internals (FastAPI 0.16x no longer flattens
included routers into `app.routes`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.keys import KeyStore
from serving.problems import ApiProblem, problem_response, unauthorized

_DETAIL = {
    "id": "Badan permintaan melebihi batas {limit} bita (KOMPETENSI_MAX_BODY_BYTES); kirim lebih sedikit data "
          "per permintaan.",
    "en": "The request body exceeds the limit of {limit} bytes (KOMPETENSI_MAX_BODY_BYTES); send less data per "
          "request.",
}


class BodyTooLarge(Exception):
    """Raised into the app by the guarded `receive` once the body passes the limit: it stops reading."""


def body_too_large(limit: int, lang: str) -> ApiProblem:
    """The 413 problem; the sentence in Indonesian unless the query asks for `lang=en`."""
    grouped = f"{limit:,}" if lang == "en" else f"{limit:,}".replace(",", ".")  # 1,048,576 / 1.048.576
    detail = _DETAIL["en" if lang == "en" else "id"].format(limit=grouped)
    return ApiProblem(413, detail, slug="body-too-large", title="Content Too Large")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def declared_length(scope: Scope) -> int | None:
    """The `Content-Length` the client declared; None when absent or not a number."""
    value = _header(scope, b"content-length")
    return int(value) if value is not None and value.strip().isdigit() else None


def has_body(scope: Scope) -> bool:
    length = declared_length(scope)
    if length is not None:
        return length > 0
    return "chunked" in (_header(scope, b"transfer-encoding") or "").lower()


def _route_path(scope: Scope) -> str:
    """The path the router matches: without the `root_path` a proxy mounted the app under."""
    path, root = str(scope.get("path", "")), str(scope.get("root_path", ""))
    return path[len(root):] or "/" if root and path.startswith(root) else path


def _query_lang(scope: Scope) -> str:
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    return "en" if "lang=en" in query.split("&") else "id"


def _bearer_token(scope: Scope) -> str | None:
    """The credentials of `Authorization: Bearer <key>`, as FastAPI's HTTPBearer reads them."""
    scheme, _, token = (_header(scope, b"authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@dataclass(frozen=True)
class Operation:
    template: str  # the path template, e.g. /v1/employees/{nip}/gaps
    pattern: re.Pattern[str]
    keyed_methods: frozenset[str]  # the methods whose operation declares `security`


def operations(openapi: Mapping[str, Any]) -> list[Operation]:
    """The documented operations, in the order the router tries them."""
    out = []
    for template, methods in openapi.get("paths", {}).items():
        keyed = frozenset(method.upper() for method, operation in methods.items()
                          if isinstance(operation, dict) and operation.get("security"))
        out.append(Operation(template, compile_path(template)[0], keyed))
    return out


class BodyGuard:
    """Refuses oversized bodies (413) and bodies sent without a valid key (401) before they are read."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, openapi: Callable[[], Mapping[str, Any]],
                 key_store: Callable[[], KeyStore]) -> None:
        self.app = app
        self.limit = int(max_body_bytes)
        self.openapi = openapi
        self.key_store = key_store
        self._operations: list[Operation] | None = None  # read from the OpenAPI document on first use

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not has_body(scope):
            await self.app(scope, receive, send)
            return
        operation = self._operation(_route_path(scope))
        if operation is not None:  # so that a refusal is counted and audited under the route's template
            scope.setdefault("state", {})["route_template"] = operation.template
        length = declared_length(scope)
        if length is not None and length > self.limit:
            await self._answer(scope, receive, send, body_too_large(self.limit, _query_lang(scope)))
        elif (operation is not None and scope.get("method") in operation.keyed_methods
              and not self._key_is_valid(scope)):
            token = _bearer_token(scope)
            await self._answer(scope, receive, send, unauthorized(
                "Missing API key: send `Authorization: Bearer <key>`." if token is None
                else self.key_store().refusal(token)))  # says revoked or expired to the key's holder
        else:
            await self._counted(scope, receive, send)

    def _operation(self, path: str) -> Operation | None:
        """The documented operation whose template matches `path` (None: no documented path matches)."""
        if self._operations is None:
            self._operations = operations(self.openapi())
        return next((op for op in self._operations if op.pattern.match(path)), None)

    def _key_is_valid(self, scope: Scope) -> bool:
        token = _bearer_token(scope)
        return token is not None and self.key_store().verify(token) is not None

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app with the body counted as it arrives; past the limit, answer 413 instead."""
        received = 0
        exceeded = False
        started = False

        async def guarded_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # the app's answer to a body it could not finish reading is replaced by the 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except BodyTooLarge:
            pass
        if exceeded and not started:
            await self._answer(scope, receive, send, body_too_large(self.limit, _query_lang(scope)))

    @staticmethod
    async def _answer(scope: Scope, receive: Receive, send: Send, problem: ApiProblem) -> None:
        headers: dict[str, Any] = dict(problem.headers or {})
        headers["Connection"] = "close"  # the unread body is not drained: the connection cannot be reused
        problem.headers = headers
        await problem_response(Request(scope, receive), problem)(scope, receive, send)
