"""Plain values every layer shares: the one NaN → None helper, and the constrained value types of requests.

JSON has no NaN and a missing number must not turn a good answer into an error, so every number that
leaves the program (an API answer, a report, a metrics file, a store row) passes through `finite`: a
plain Python float, or None when the value is missing (None, NaN, pandas NA/NaT), not a number, or
infinite. numpy scalars become Python floats on the way.

`Identifier` and `HorizonMonths` are the request vocabulary the engine's `PlanRequest` and the API's
request bodies share (one definition, so the CLI and the API accept the same values).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import Field, StringConstraints

Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
HorizonMonths = Annotated[int, Field(ge=1, le=60, description="months after the as-of date")]


def finite(value: Any) -> float | None:
    """`value` as a Python float; None when it is missing, not a number or not finite."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
