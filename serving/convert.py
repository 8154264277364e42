"""Engine results (dataclasses from `training.results`) to JSON-ready values for the response models."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime
from typing import Any

_NOT_A_DATACLASS = ()
_fields_of: dict[type, tuple[str, ...]] = {}  # a dataclass's field names (`()`: not a dataclass)


def plain(value: Any) -> Any:
    """Dataclasses, numpy scalars and arrays, pandas timestamps → dicts, lists, int, float, str, date.

    Non-finite floats become None: JSON has no NaN, and a NaN must not turn a good answer into a 500.
    """
    # Fast paths by exact type (a gaps answer is ~3,000 values; the generic checks below cost ~1 ms).
    kind = type(value)
    if kind is str or kind is bool or kind is int or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is list or kind is tuple:
        return [plain(v) for v in value]
    if kind is dict:
        return {str(k): plain(v) for k, v in value.items()}
    names = _fields_of.get(kind)
    if names is None:
        names = _fields_of[kind] = (tuple(f.name for f in dataclasses.fields(kind))
                                    if dataclasses.is_dataclass(kind) else _NOT_A_DATACLASS)
    if names:
        return {name: plain(getattr(value, name)) for name in names}
    return _plain_other(value)


def _plain_other(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, datetime):
        # pandas.Timestamp is a datetime; a midnight timestamp from a date column is a date.
        if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0) and value.tzinfo is None:
            return value.date()
        return value
    if isinstance(value, date):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    item = getattr(value, "item", None)  # numpy scalar
    if callable(item) and getattr(value, "ndim", None) == 0:
        return plain(item())
    tolist = getattr(value, "tolist", None)  # numpy array
    if callable(tolist):
        return plain(tolist())
    if str(value) in ("<NA>", "NaT"):  # pandas missing markers
        return None
    return str(value)
