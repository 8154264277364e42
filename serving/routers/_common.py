"""What the routers share: the documented error answers of a route."""

from __future__ import annotations

from typing import Any

from serving.schemas import Problem

_DESCRIPTIONS = {
    401: "No API key, or an invalid one",
    403: "The key's role may not use this route",
    404: "Unknown employee, unit, training or position",
    409: "The new champion bundle was refused; the previous model keeps serving",
    422: "Invalid input; `errors` names the fields",
    503: "No model or no store snapshot is loaded",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses (rendered as application/problem+json by main.py)."""
    return {status: {"model": Problem, "description": _DESCRIPTIONS[status]} for status in statuses}


AUTHED = (401, 403, 422)
