"""A small, hand-made, fully valid export (every table, a few rows each, every rule obeyed) for tests.

Tests write it into a tmp folder and break one thing in their copy:

    folder = write_valid_export(tmp_path / "export")
    edit_rows(folder, "employees", lambda rows: rows[1].update(unit_id="9999"))

`BROKEN_EXPORTS` lists one-rule breaks with the single error each must produce (file, row, column,
a fragment of the rule); `large_export` writes a ~150k-row export of N employees for timing.
"""

from __future__ import annotations

import copy
import csv
import functools
import json
import random
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from features.constants import (
    MANAGERIAL_COMPETENCIES,
    SKP_EXPECTATIONS,
    SOCIO_CULTURAL_COMPETENCIES,
    TABLES_BY_NAME,
    skp_rating,
)
from features.export import Export

EXPORTED_ON = date(2026, 10, 31)
Rows = list[dict[str, str]]


def _rows(columns: str, lines: str) -> Rows:
    names = columns.split(",")
    return [dict(zip(names, line.split(","), strict=True)) for line in lines.strip().splitlines()]


_COMPETENCY_LINES = [f"M0{i},{name},manajerial" for i, name in enumerate(MANAGERIAL_COMPETENCIES, start=1)]
_COMPETENCY_LINES += [f"S0{i},{name},sosial_kultural" for i, name in enumerate(SOCIO_CULTURAL_COMPETENCIES, 1)]
_COMPETENCY_LINES += ["T01,Pengelolaan Kepegawaian,teknis", "T02,Asuhan Keperawatan,teknis"]

# NIP = birth date YYYYMMDD + appointment YYYYMM + sex digit (1 = l, 2 = p) + 3-digit sequence
_VALID: dict[str, Rows] = {
    "units": _rows("unit_id,name,kind,parent_unit_id", """
0100,Badan Kepegawaian dan Pengembangan Sumber Daya Manusia,badan,
0200,Dinas Kesehatan,dinas,
0300,Kecamatan Pontianak Kota,kecamatan,
0301,Kelurahan Darat Sekip,kelurahan,0300
0201,Puskesmas Kampung Bali,puskesmas,0200
"""),
    "competencies": _rows("competency_id,name,kind", "\n".join(_COMPETENCY_LINES)),
    "positions": _rows("position_id,title,position_type,job_family", """
P01,Kepala Bidang Pengembangan Kompetensi,administrator,administrasi
P02,Analis SDM Aparatur Ahli Pertama,fungsional_ahli_pertama,administrasi
P03,Perawat Terampil,fungsional_terampil,kesehatan
P04,Pengadministrasi Umum,pelaksana,administrasi
P05,Lurah,pengawas,pelayanan_publik
"""),
    "position_standards": _rows("position_id,competency_id,required_level", """
P01,M01,3
P01,M03,3
P01,T01,3
P02,M03,2
P02,T01,2
P03,T02,2
P03,M05,2
P04,M01,1
P05,M05,3
"""),
    "employees": _rows("nip,unit_id,position_id,grade,employment,education,hired_on,birth_date,sex,status", """
198503122010031001,0100,P01,III/d,pns,s1,2010-03-01,1985-03-12,l,aktif
199207252019022002,0100,P02,III/a,pns,s1,2019-02-01,1992-07-25,p,aktif
199411302022122001,0201,P03,pppk_7,pppk,d3,2022-12-01,1994-11-30,p,aktif
197806152005011003,0301,P04,III/b,pns,sma,2005-01-03,1978-06-15,l,cuti
196805202000121004,0300,P05,IV/a,pns,s2,2000-12-01,1968-05-20,l,pensiun
200001012025062005,0200,P04,II/c,pns,d3,2025-06-02,2000-01-01,p,aktif
"""),
    "assessments": _rows("nip,competency_id,assessed_on,level,method", """
198503122010031001,M01,2024-05-14,3.2,assessment_center
198503122010031001,M03,2024-05-14,2.8,assessment_center
198503122010031001,M03,2024-05-14,3.0,penilaian_360
198503122010031001,T01,2025-09-01,2.5,uji_kompetensi
199207252019022002,M03,2025-03-10,2.0,cat
199207252019022002,T01,2026-10-31,1.5,uji_kompetensi
199411302022122001,T02,2025-11-20,2.4,uji_kompetensi
197806152005011003,M01,2023-08-08,1.0,cat
200001012025062005,M01,2026-02-17,1.8,cat
"""),
    "performance_reviews": _rows("nip,year,rating,work_result,work_behavior", """
198503122010031001,2024,sangat_baik,diatas_ekspektasi,diatas_ekspektasi
198503122010031001,2025,baik,sesuai_ekspektasi,sesuai_ekspektasi
199207252019022002,2025,baik,sesuai_ekspektasi,diatas_ekspektasi
199411302022122001,2025,butuh_perbaikan,dibawah_ekspektasi,sesuai_ekspektasi
197806152005011003,2025,kurang,sesuai_ekspektasi,dibawah_ekspektasi
196805202000121004,2024,sangat_kurang,dibawah_ekspektasi,dibawah_ekspektasi
200001012025062005,2026,baik,diatas_ekspektasi,sesuai_ekspektasi
"""),
    "trainings": _rows(
        "training_id,title,format,hours_jp,cost_idr,provider,eligible_position_types,eligible_employment,"
        "max_years_of_service,active", """
TR01,Pelatihan Dasar CPNS,blended,647,5000000,BPSDM Provinsi Kalimantan Barat,,pns,1,true
TR02,Pelatihan Kepemimpinan Administrator,blended,270,15000000,LAN,administrator,,,true
TR03,Komunikasi Efektif,e_learning,20,0,internal,pelaksana;fungsional_ahli_pertama;fungsional_terampil,pns;pppk,,TRUE
TR04,Pelayanan Prima,workshop,24,1500000,internal,,,,false
"""),
    "training_targets": _rows("training_id,competency_id,min_level,max_level", """
TR01,M01,1,2
TR01,S01,1,2
TR02,M07,2,4
TR02,M08,2,4
TR03,M03,1,3
TR04,M05,2,3
"""),
    "training_records": _rows("nip,training_id,started_on,completed_on,status,post_test_score", """
200001012025062005,TR01,2025-07-01,2025-11-30,selesai,82.5
198503122010031001,TR02,2023-03-01,2023-06-30,selesai,88
199207252019022002,TR03,2026-09-01,,berjalan,
197806152005011003,TR03,2024-02-01,,tidak_selesai,
199411302022122001,TR03,2025-01-10,2025-02-10,selesai,
197806152005011003,TR04,2022-05-10,2022-05-12,tidak_selesai,40
"""),
    "awards": _rows("nip,year,kind", """
198503122010031001,2024,satyalancana_karya_satya
199411302022122001,2025,inovasi_pelayanan
"""),
}


def valid_rows() -> dict[str, Rows]:
    """A fresh copy of the valid export's rows (every cell as CSV text), by table name."""
    return copy.deepcopy(_VALID)


def valid_meta() -> dict[str, object]:
    return {"contract_version": 1, "organisation": "Pemerintah Kota Pontianak",
            "exported_on": EXPORTED_ON.isoformat()}


def write_table_csv(folder: Path, name: str, rows: Rows, columns: list[str] | None = None) -> Path:
    """Write rows as NAME.csv (columns: the first row's keys, else the contract's)."""
    columns = columns or (list(rows[0]) if rows else list(TABLES_BY_NAME[name].column_names))
    path = folder / f"{name}.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([row.get(c, "") for c in columns] for row in rows)
    return path


def _arrow_column(kind: str | None, cells: list[str]) -> pa.Array:
    values = [cell if cell != "" else None for cell in cells]
    if kind == "int":
        return pa.array([None if v is None else int(v) for v in values], pa.int64())
    if kind == "decimal":
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    if kind == "date":
        return pa.array([None if v is None else date.fromisoformat(v) for v in values], pa.date32())
    if kind == "bool":
        return pa.array([None if v is None else v.lower() == "true" for v in values], pa.bool_())
    return pa.array(values, pa.string())


def write_table_parquet(folder: Path, name: str, rows: Rows, columns: list[str] | None = None) -> Path:
    """Write rows as NAME.parquet with the contract's types (int64, float64, date32, bool, string)."""
    table = TABLES_BY_NAME[name]
    columns = columns or (list(rows[0]) if rows else list(table.column_names))
    kinds = {c.name: c.type for c in table.columns}
    arrays = [_arrow_column(kinds.get(c), [row.get(c, "") for row in rows]) for c in columns]
    path = folder / f"{name}.parquet"
    pq.write_table(pa.table(arrays, names=columns), path)
    return path


def write_meta(folder: Path, meta: dict[str, object]) -> Path:
    path = folder / "export.json"
    path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return path


def write_export(folder: Path, rows: dict[str, Rows] | None = None, meta: dict[str, object] | None = None,
                 *, parquet: Iterable[str] = ()) -> Path:
    """Write an export (default: the valid one); tables named in `parquet` are written as Parquet."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = valid_rows() if rows is None else rows
    as_parquet = set(parquet)
    for name, table_rows in rows.items():
        writer = write_table_parquet if name in as_parquet else write_table_csv
        writer(folder, name, table_rows)
    write_meta(folder, valid_meta() if meta is None else meta)
    return folder


def write_valid_export(folder: Path) -> Path:
    return write_export(folder)


def read_rows(folder: Path, name: str) -> Rows:
    with (folder / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def edit_rows(folder: Path, name: str, edit: Callable[[Rows], object]) -> None:
    """Rewrite NAME.csv after `edit` changed its rows in place (a column removed from every row is gone)."""
    rows = read_rows(folder, name)
    edit(rows)
    columns = list(rows[0]) if rows else None
    write_table_csv(folder, name, rows, columns)


def set_cell(folder: Path, name: str, index: int, /, **values: str) -> None:
    """Set cells of the data row `index` (0-based: index 0 is row 2 in error messages)."""
    edit_rows(folder, name, lambda rows: rows[index].update(values))


# ---------------------------------------------------------------------------------------------------------
# One rule broken at a time, with the one error each must give
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Broken:
    name: str
    apply: Callable[[Path], object]
    file: str
    row: int | None
    column: str | None
    rule: str  # a fragment of the rule text


def _drop_column(name: str, column: str) -> Callable[[Path], object]:
    return lambda folder: edit_rows(folder, name, lambda rows: [row.pop(column) for row in rows])


def _append_copy(name: str, index: int, **changes: str) -> Callable[[Path], object]:
    return lambda folder: edit_rows(folder, name, lambda rows: rows.append({**rows[index], **changes}))


def _rename_nip(old: str, new: str) -> Callable[[Path], object]:
    """Change one employee's NIP in every table (so only the NIP rule itself can fail)."""
    def apply(folder: Path) -> None:
        for name in ("employees", "assessments", "performance_reviews", "training_records", "awards"):
            edit_rows(folder, name, lambda rows: [row.update(nip=new) for row in rows if row["nip"] == old])
    return apply


def _write_bytes(name: str, data: bytes) -> Callable[[Path], object]:
    return lambda folder: (folder / name).write_bytes(data)


def _not_utf8(folder: Path) -> None:
    text = (folder / "units.csv").read_text(encoding="utf-8").replace("Pontianak Kota", "Pontianak Kota é")
    (folder / "units.csv").write_bytes(text.encode("cp1252"))  # é as the single byte 0xe9, on line 4


def _both_formats(folder: Path) -> None:
    write_table_parquet(folder, "units", read_rows(folder, "units"))


def _meta(**changes: object) -> Callable[[Path], object]:
    return lambda folder: write_meta(folder, {**valid_meta(), **changes})


def _ragged(folder: Path) -> None:
    text = (folder / "positions.csv").read_text(encoding="utf-8").splitlines()
    text[2] += ",extra"
    (folder / "positions.csv").write_text("\n".join(text) + "\n", encoding="utf-8")


BROKEN_EXPORTS: tuple[Broken, ...] = (
    Broken("missing_required_column", _drop_column("employees", "grade"),
           "employees.csv", None, "grade", "required column missing"),
    Broken("unknown_unit_id", lambda f: set_cell(f, "employees", 1, unit_id="9999"),
           "employees.csv", 3, "unit_id", "unknown unit_id: not in units.csv"),
    Broken("level_7", lambda f: set_cell(f, "assessments", 0, level="7"),
           "assessments.csv", 2, "level", "must be between 1.0 and 5.0"),
    Broken("malformed_nip", _rename_nip("197806152005011003", "1978061520050110"),
           "employees.csv", 5, "nip", "18 digits required"),
    Broken("nip_sex_disagrees", lambda f: set_cell(f, "employees", 1, sex="l"),
           "employees.csv", 3, "nip", "digit 15 must agree with sex"),
    Broken("skp_matrix", lambda f: set_cell(f, "performance_reviews", 1, rating="sangat_baik"),
           "performance_reviews.csv", 3, "rating", "must be 'baik'"),
    Broken("duplicate_key", _append_copy("position_standards", 0, required_level="4"),
           "position_standards.csv", 11, "position_id+competency_id", "first given in row 2"),
    Broken("empty_file", _write_bytes("units.csv", b""),
           "units.csv", None, None, "empty file"),
    Broken("not_utf8", _not_utf8, "units.csv", 4, None, "not UTF-8: first invalid byte 0xe9 on line 4"),
    Broken("completed_before_started", lambda f: set_cell(f, "training_records", 0, completed_on="2025-06-30"),
           "training_records.csv", 2, "completed_on", "before started_on (2025-07-01)"),
    Broken("both_csv_and_parquet", _both_formats, "units.csv", None, None, "give each table once"),
    Broken("birth_date_not_in_nip", lambda f: set_cell(f, "employees", 0, birth_date="1985-03-13"),
           "employees.csv", 2, "nip", "digits 1–8 must equal birth_date"),
    Broken("hired_on_not_in_nip", lambda f: set_cell(f, "employees", 1, hired_on="2019-03-01"),
           "employees.csv", 3, "nip", "digits 9–14 must equal hired_on's year and month (201903)"),
    Broken("future_assessment", lambda f: set_cell(f, "assessments", 0, assessed_on="2026-11-01"),
           "assessments.csv", 2, "assessed_on", "in the future"),
    Broken("future_completion", lambda f: set_cell(f, "training_records", 4, completed_on="2026-11-02"),
           "training_records.csv", 6, "completed_on", "in the future"),
    Broken("future_performance_year", lambda f: set_cell(f, "performance_reviews", 6, year="2027"),
           "performance_reviews.csv", 8, "year", "after the export year 2026"),
    Broken("berjalan_with_completed_on", lambda f: set_cell(f, "training_records", 2, completed_on="2026-09-30"),
           "training_records.csv", 4, "completed_on", "must be empty when status is berjalan"),
    Broken("selesai_without_completed_on", lambda f: set_cell(f, "training_records", 0, completed_on=""),
           "training_records.csv", 2, "completed_on", "required when status is selesai"),
    Broken("enum_list_bad_token",
           lambda f: set_cell(f, "trainings", 2, eligible_position_types="pelaksana;kepala_dinas"),
           "trainings.csv", 4, "eligible_position_types", "`;`-separated values"),
    Broken("grade_case", lambda f: set_cell(f, "employees", 1, grade="iii/a"),
           "employees.csv", 3, "grade", "must be one of: I/a"),
    Broken("max_below_min", lambda f: set_cell(f, "training_targets", 0, min_level="2", max_level="1"),
           "training_targets.csv", 2, "max_level", "must be ≥ min_level (2)"),
    Broken("required_table_missing", lambda f: (f / "trainings.csv").unlink(),
           "trainings.csv", None, None, "required table missing"),
    Broken("contract_version", _meta(contract_version=2), "export.json", None, "contract_version", "must be 1"),
    Broken("exported_on_format", _meta(exported_on="31/10/2026"),
           "export.json", None, "exported_on", "YYYY-MM-DD"),
    Broken("int_not_whole", lambda f: set_cell(f, "position_standards", 0, required_level="2.5"),
           "position_standards.csv", 2, "required_level", "whole number required"),
    Broken("impossible_date", lambda f: set_cell(f, "assessments", 4, assessed_on="2025-02-30"),
           "assessments.csv", 6, "assessed_on", "date YYYY-MM-DD required"),
    Broken("ragged_row", _ragged, "positions.csv", 3, None, "expected 4 fields"),
    Broken("unknown_parent_unit", lambda f: set_cell(f, "units", 4, parent_unit_id="0999"),
           "units.csv", 6, "parent_unit_id", "unknown unit_id"),
    Broken("blank_required_text", lambda f: set_cell(f, "positions", 0, title="   "),
           "positions.csv", 2, "title", "non-empty value required"),
    Broken("bool_word", lambda f: set_cell(f, "trainings", 0, active="ya"),
           "trainings.csv", 2, "active", "true or false required"),
    Broken("cost_negative", lambda f: set_cell(f, "trainings", 0, cost_idr="-1"),
           "trainings.csv", 2, "cost_idr", "must be ≥ 0"),
)


# ---------------------------------------------------------------------------------------------------------
# A large export, for timing (about 25 rows per employee: 6,000 employees → ~150k rows)
# ---------------------------------------------------------------------------------------------------------
def large_export(folder: Path, n_employees: int = 6000, seed: int = 11) -> Path:
    """Write a valid export with `n_employees` employees and ~25 history rows each (seeded)."""
    rng = random.Random(seed)
    rows = valid_rows()
    positions = [r["position_id"] for r in rows["positions"]]
    units = [r["unit_id"] for r in rows["units"]]
    competencies = [r["competency_id"] for r in rows["competencies"]]
    trainings = [r["training_id"] for r in rows["trainings"]]
    employees, assessments, reviews, records = [], [], [], []
    seen: set[str] = set()
    for i in range(n_employees):
        birth = date(1965, 1, 1) + timedelta(days=rng.randrange(13_000))
        hired = birth + timedelta(days=rng.randrange(20 * 365, 30 * 365))
        hired = min(hired, EXPORTED_ON - timedelta(days=40))
        sex = rng.choice("lp")
        stem = f"{birth:%Y%m%d}{hired:%Y%m}{1 if sex == 'l' else 2}"
        sequence = i % 1000
        while f"{stem}{sequence:03d}" in seen:  # the same birth date, month and sex: next sequence number
            sequence = (sequence + 1) % 1000
        nip = f"{stem}{sequence:03d}"
        seen.add(nip)
        employees.append({
            "nip": nip, "unit_id": rng.choice(units), "position_id": rng.choice(positions), "grade": "III/a",
            "employment": "pns", "education": "s1", "hired_on": hired.isoformat(), "birth_date": birth.isoformat(),
            "sex": sex, "status": "aktif",
        })
        for competency in rng.sample(competencies, 5):
            for year in (2023, 2024, 2025):
                assessments.append({
                    "nip": nip, "competency_id": competency, "assessed_on": f"{year}-0{rng.randrange(1, 10)}-15",
                    "level": f"{rng.uniform(1, 5):.2f}", "method": "cat",
                })
        for year in range(2021, 2026):
            result, behavior = rng.choice(SKP_EXPECTATIONS), rng.choice(SKP_EXPECTATIONS)
            reviews.append({"nip": nip, "year": str(year), "rating": skp_rating(result, behavior),
                            "work_result": result, "work_behavior": behavior})
        for training in rng.sample(trainings, 3):
            started = date(2024, rng.randrange(1, 13), 1)
            records.append({"nip": nip, "training_id": training, "started_on": started.isoformat(),
                            "completed_on": (started + timedelta(days=20)).isoformat(), "status": "selesai",
                            "post_test_score": f"{rng.uniform(50, 100):.1f}"})
    rows["employees"] = employees
    rows["assessments"], rows["performance_reviews"], rows["training_records"] = assessments, reviews, records
    rows["awards"] = []
    return write_export(folder, rows)


@functools.lru_cache(maxsize=8)
def generated_export(employees: int, years: int, seed: int, exported_on: date) -> Export:
    """A generated export read back through the contract reader, cached per process (never mutate it:
    copy its tables first)."""
    from features.generator import generate_export
    from features.io import read_export

    with tempfile.TemporaryDirectory(prefix="generated-export-") as tmp:
        folder = Path(tmp) / "export"
        generate_export(folder, employees=employees, years=years, seed=seed, exported_on=exported_on)
        return read_export(folder)
