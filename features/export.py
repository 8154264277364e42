"""The in-memory form of one export (or one store snapshot): typed DataFrames keyed by table name.

Both `features.io.read_export` (files, after validation) and `features.store.load_snapshot` (the store)
return an `Export`, so feature building does not care where the data came from.

Dtypes, the same for every producer:
- str / enum / enum_list columns: pandas string dtype (``"str"``), missing = NA;
- int columns: ``Int64`` (nullable), decimal columns: ``float64``, bool columns: ``bool``;
- date columns: ``datetime64[ns]`` (midnight), missing = NaT.
An optional table that is absent is an empty DataFrame with all its columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from features.constants import PROTECTED_COLUMNS, TABLES, Table


@dataclass
class Export:
    tables: dict[str, pd.DataFrame]
    exported_on: date
    organisation: str = ""
    contract_version: int = 1
    snapshot_id: str | None = None  # the content hash of the snapshot, when it came from the store
    warnings: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def without_protected(self) -> Export:
        """A copy whose tables carry no protected attribute (for anything that is not the fairness audit)."""
        tables = {
            name: df.drop(columns=[c for c in PROTECTED_COLUMNS if c in df.columns])
            for name, df in self.tables.items()
        }
        return Export(tables, self.exported_on, self.organisation, self.contract_version, self.snapshot_id,
                      list(self.warnings))


PANDAS_DTYPES = {
    "str": "str",
    "enum": "str",
    "enum_list": "str",
    "int": "Int64",
    "decimal": "float64",
    "bool": "bool",
    "date": "datetime64[ns]",
}


def empty_table(table: Table) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series([], dtype=PANDAS_DTYPES[c.type]) for c in table.columns})


def table_specs() -> tuple[Table, ...]:
    return TABLES
