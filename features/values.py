"""Plain values every layer shares: the one NaN → None helper, and the constrained value types of requests.

JSON has no NaN and a missing number must not turn a good answer into an error, so every number that
leaves the program (an API answer, a report, a metrics file, a store row) passes through `finite`: a
plain Python float, or None when the value is missing (None, NaN, pandas NA/NaT), not a number, or
infinite. numpy scalars become Python floats on the way.

`Identifier`, `HorizonMonths`, `Rupiah` and `RequestDate` are the request vocabulary the engine's
`PlanRequest` and the API's request bodies share (one definition, so the CLI and the API accept the same
values); each is bounded, so an absurd value is a validation error naming the field, never a crash deeper in
(pandas timestamps end in 1677 and 2262, numpy integers at 2**63).

`mask_nip` is the one way a NIP is shown where it is not the answer itself (errors, logs): its first 15
digits encode the birth date (1–8), the appointment month (9–14) and the sex (15), so only the serial
(16–18) is shown.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from features.constants import EARLIEST_DATE, LATEST_DATE, MAX_HORIZON_MONTHS

MAX_RUPIAH = 10**15  # a thousand trillion Rupiah: above any budget or cost, far below numpy's int64

Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
HorizonMonths = Annotated[int, Field(ge=1, le=MAX_HORIZON_MONTHS, description="months after the as-of date")]
Rupiah = Annotated[int, Field(ge=0, le=MAX_RUPIAH)]
RequestDate = Annotated[date, Field(ge=EARLIEST_DATE, le=LATEST_DATE,
                                    description=f"YYYY-MM-DD, {EARLIEST_DATE} to {LATEST_DATE}")]

NIP_LENGTH = 18
NIP_SHOWN_DIGITS = 3  # the serial: the digits before it are the birth date, appointment month and sex
_NIP_LIKE = re.compile(r"\d{8,}")  # a run this long may be a NIP or its birth-date part


def mask_nip(value: object) -> str:
    """`**************123`: a NIP as it may be printed. Shorter values (a NIP cut in a broken export) are
    all stars, since any of their digits may be the birth date; longer ones show their last three."""
    text = str(value)
    if len(text) < NIP_LENGTH:
        return "*" * len(text)
    return "*" * (NIP_LENGTH - NIP_SHOWN_DIGITS) + text[-NIP_SHOWN_DIGITS:]


def mask_nips_in(text: str) -> str:
    """`text` with every run of 8 or more digits masked as a NIP (paths, messages, tracebacks)."""
    return _NIP_LIKE.sub(lambda match: mask_nip(match.group()), text)


def finite(value: Any) -> float | None:
    """`value` as a Python float; None when it is missing, not a number or not finite."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
