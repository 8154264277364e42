"""The unit tree: a unit and its descendants (a kecamatan with its kelurahan, an OPD with its sub-units)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from engine.results import UnknownUnit


def unit_scope(units: pd.DataFrame, unit_ids: Sequence[str]) -> set[str]:
    """The requested units and all their descendants (children, grandchildren, … via parent_unit_id)."""
    known = units["unit_id"].astype(str).tolist()
    known_set = set(known)
    for i, unit_id in enumerate(unit_ids):
        if unit_id not in known_set:
            raise UnknownUnit(f"unknown unit {unit_id}", field=f"unit_ids[{i}]")
    parents = units["parent_unit_id"] if "parent_unit_id" in units.columns else pd.Series(pd.NA, index=units.index)
    children: dict[str, list[str]] = {}
    for child, parent in zip(known, parents.tolist(), strict=True):
        if parent is not None and not pd.isna(parent):
            children.setdefault(str(parent), []).append(child)
    scope: set[str] = set()
    todo = list(unit_ids)
    while todo:  # a visited set guards against a (contract-breaking) cycle
        unit_id = todo.pop()
        if unit_id not in scope:
            scope.add(unit_id)
            todo.extend(children.get(unit_id, ()))
    return scope
