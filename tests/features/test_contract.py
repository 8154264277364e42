"""The data contract: every rule on a small hand-made export, one break at a time (tests/exports.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.constants import TABLES
from features.contract import ContractError, ErrorLog
from features.export import PANDAS_DTYPES
from features.io import ExportInvalid, read_export
from features.store import content_sha256
from tests.exports import (
    BROKEN_EXPORTS,
    Broken,
    edit_rows,
    read_rows,
    set_cell,
    valid_rows,
    write_export,
    write_meta,
    write_table_csv,
    write_table_parquet,
    write_valid_export,
)


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    return write_valid_export(tmp_path / "export")


def errors_of(folder: Path, max_errors: int = 200) -> ExportInvalid:
    with pytest.raises(ExportInvalid) as caught:
        read_export(folder, max_errors=max_errors)
    return caught.value


def test_valid_export_reads_clean_with_contract_dtypes(export_dir: Path) -> None:
    export = read_export(export_dir)

    assert export.warnings == []
    assert export.exported_on.isoformat() == "2026-10-31"
    assert export.organisation == "Pemerintah Kota Pontianak"
    for table in TABLES:
        frame = export[table.name]
        assert list(frame.columns) == list(table.column_names)
        assert {c: str(frame[c].dtype) for c in frame} == {c.name: PANDAS_DTYPES[c.type] for c in table.columns}
        assert len(frame) == len(valid_rows()[table.name])
    assert export["units"]["unit_id"].tolist()[:2] == ["0100", "0200"]  # leading zeros kept
    assert export["employees"]["hired_on"].iloc[0] == pd.Timestamp("2010-03-01")
    trainings = export["trainings"].set_index("training_id")
    assert trainings["active"].tolist() == [True, True, True, False]  # TR03 is written "TRUE"
    assert pd.isna(trainings.loc["TR01", "eligible_position_types"])  # empty = open to all
    assert trainings.loc["TR01", "max_years_of_service"] == 1
    assert pd.isna(trainings.loc["TR02", "max_years_of_service"])
    assert export["assessments"]["level"].tolist()[:2] == [3.2, 2.8]


@pytest.mark.parametrize("broken", BROKEN_EXPORTS, ids=lambda b: b.name)
def test_each_broken_rule_gives_exactly_its_error(export_dir: Path, broken: Broken) -> None:
    broken.apply(export_dir)

    invalid = errors_of(export_dir)

    assert invalid.total == 1, [str(e) for e in invalid.errors]
    (error,) = invalid.errors
    assert (error.file, error.row, error.column) == (broken.file, broken.row, broken.column)
    assert broken.rule in error.rule


def test_all_tables_as_parquet_read_the_same_as_csv(tmp_path: Path) -> None:
    as_csv = read_export(write_export(tmp_path / "csv"))
    as_parquet = read_export(write_export(tmp_path / "parquet", parquet=[t.name for t in TABLES]))

    for table in TABLES:
        pd.testing.assert_frame_equal(as_parquet[table.name], as_csv[table.name])
    assert content_sha256(as_parquet) == content_sha256(as_csv)


def test_parquet_rows_are_numbered_like_csv(tmp_path: Path) -> None:
    rows = valid_rows()
    rows["assessments"][2]["level"] = "0.5"
    folder = write_export(tmp_path / "e", rows, parquet=["assessments"])

    (error,) = errors_of(folder).errors

    assert (error.file, error.row, error.column, error.value) == ("assessments.parquet", 4, "level", "0.5")


def test_parquet_timestamps_text_numbers_and_int_ids_are_accepted(tmp_path: Path) -> None:
    folder = write_valid_export(tmp_path / "e")
    rows = read_rows(folder, "assessments")
    (folder / "assessments.csv").unlink()
    stamps = pd.to_datetime([r["assessed_on"] for r in rows]).tz_localize("Asia/Jakarta")
    table = pa.table({
        "nip": pa.array([int(r["nip"]) for r in rows], pa.int64()),  # a tool that stored NIPs as numbers
        "competency_id": [r["competency_id"] for r in rows],
        "assessed_on": pa.array(stamps.as_unit("us").asi8, pa.timestamp("us", tz="Asia/Jakarta")),
        "level": [f" {r['level']} " for r in rows],  # text: parsed like CSV
        "method": pa.array([r["method"] for r in rows]).dictionary_encode(),
    })
    pq.write_table(table, folder / "assessments.parquet")

    export = read_export(folder)

    assessments = export["assessments"]
    assert str(assessments["assessed_on"].dtype) == "datetime64[ns]"
    assert assessments["assessed_on"].iloc[0] == pd.Timestamp("2024-05-14")  # the date as written, no tz shift
    assert assessments["nip"].iloc[0] == "198503122010031001"
    assert assessments["level"].iloc[0] == 3.2


def test_parquet_column_of_a_wrong_type_is_one_error(tmp_path: Path) -> None:
    folder = write_valid_export(tmp_path / "e")
    rows = read_rows(folder, "units")
    (folder / "units.csv").unlink()
    pq.write_table(pa.table({"unit_id": [r["unit_id"] for r in rows], "name": [1.5] * len(rows),
                             "kind": [r["kind"] for r in rows]}), folder / "units.parquet")

    (error,) = errors_of(folder).errors

    assert (error.file, error.row, error.column) == ("units.parquet", None, "name")
    assert "Parquet type float64 is not accepted for a str column" in error.rule


def test_unknown_column_warns_and_is_dropped(export_dir: Path) -> None:
    edit_rows(export_dir, "employees", lambda rows: [row.update(agama="islam") for row in rows])

    export = read_export(export_dir)

    assert export.warnings == ["employees.csv: unknown column 'agama' ignored"]
    assert "agama" not in export["employees"].columns


def test_optional_columns_absent_default_to_null(export_dir: Path) -> None:
    for table, column in [("units", "parent_unit_id"), ("trainings", "eligible_employment"),
                          ("trainings", "max_years_of_service"), ("training_records", "post_test_score")]:
        edit_rows(export_dir, table, lambda rows, c=column: [row.pop(c) for row in rows])

    export = read_export(export_dir)

    assert export["units"]["parent_unit_id"].isna().all()
    assert str(export["trainings"]["max_years_of_service"].dtype) == "Int64"
    assert export["trainings"]["max_years_of_service"].isna().all()
    assert str(export["training_records"]["post_test_score"].dtype) == "float64"
    assert export["training_records"]["post_test_score"].isna().all()


def test_optional_table_absent_or_header_only_is_an_empty_table(export_dir: Path) -> None:
    (export_dir / "awards.csv").unlink()
    assert read_export(export_dir)["awards"].empty

    write_table_csv(export_dir, "awards", [])
    awards = read_export(export_dir)["awards"]
    assert awards.empty and list(awards.columns) == ["nip", "year", "kind"]
    assert str(awards["year"].dtype) == "Int64"


def test_integral_decimals_are_whole_numbers(export_dir: Path) -> None:
    set_cell(export_dir, "position_standards", 0, required_level="3.0")
    set_cell(export_dir, "performance_reviews", 0, year="2024.0")

    export = read_export(export_dir)

    assert export["position_standards"]["required_level"].iloc[0] == 3
    assert export["performance_reviews"]["year"].iloc[0] == 2024


def test_bom_crlf_whitespace_and_blank_lines_are_tolerated(export_dir: Path) -> None:
    path = export_dir / "employees.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] = ",".join(f"  {cell}\u00a0" for cell in lines[1].split(","))  # spaces and a spreadsheet NBSP
    lines.insert(3, "")
    lines.insert(4, ",,,,,,,,,")
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8") + b"\r\n")
    set_cell(export_dir, "assessments", 4, level="9")  # row numbers still count the blank lines

    invalid = errors_of(export_dir)

    assert [(e.file, e.row, e.column) for e in invalid.errors] == [("assessments.csv", 6, "level")]
    set_cell(export_dir, "assessments", 4, level="2.0")
    employees = read_export(export_dir)["employees"]
    assert employees["nip"].iloc[0] == "198503122010031001"
    assert len(employees) == 6


def test_rows_keep_their_numbers_after_blank_lines(export_dir: Path) -> None:
    path = export_dir / "employees.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(2, "")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    set_cell(export_dir, "employees", 1, status="aktiv")

    (error,) = errors_of(export_dir).errors

    assert (error.row, error.column, error.value) == (3, "status", "aktiv")


def test_all_errors_are_reported_in_one_run_with_a_cap_and_total(export_dir: Path) -> None:
    edit_rows(export_dir, "assessments", lambda rows: [row.update(level="9") for row in rows])
    set_cell(export_dir, "employees", 1, unit_id="9999")
    write_meta(export_dir, {"contract_version": 1, "exported_on": "2026-13-01"})

    everything = errors_of(export_dir)
    capped = errors_of(export_dir, max_errors=3)

    assert everything.total == capped.total == 11
    assert len(everything.errors) == 11 and len(capped.errors) == 3
    assert [(e.file, e.row) for e in everything.errors[:4]] == [
        ("export.json", None), ("employees.csv", 3), ("assessments.csv", 2), ("assessments.csv", 3)]
    assert capped.errors == everything.errors[:3]
    assert "11 contract error(s)" in str(capped)


def test_missing_permenpan_competency_is_only_a_warning(export_dir: Path) -> None:
    set_cell(export_dir, "competencies", 8, name="Wawasan Kebangsaan")  # instead of Perekat Bangsa
    set_cell(export_dir, "competencies", 2, name="KOMUNIKASI")  # case does not matter

    export = read_export(export_dir)

    assert export.warnings == [
        "competencies.csv: PermenPAN-RB 38/2017 competency 'Perekat Bangsa' (sosial_kultural) is missing"]


def test_error_text_names_file_row_column_value_and_rule() -> None:
    error = ContractError("employees.csv", 12, "nip", "199003152015031002", "18 digits required")
    assert str(error) == "employees.csv, row 12, column nip, value '***************002': 18 digits required"
    assert str(ContractError("units.csv", None, None, None, "empty file")) == "units.csv: empty file"
    assert "1985" not in str(ContractError("employees.csv", 2, "birth_date", "1985-03-12", "x"))
    long = str(ContractError("units.csv", 2, "name", "x" * 200, "y"))
    assert len(long) < 120


def test_protected_values_never_appear_in_error_texts(export_dir: Path) -> None:
    set_cell(export_dir, "employees", 0, birth_date="1985-03-13", sex="p")
    set_cell(export_dir, "employees", 1, birth_date="1992-02-30")

    invalid = errors_of(export_dir)

    texts = " ".join(str(e) for e in invalid.errors)
    assert {(e.row, e.column) for e in invalid.errors} == {(2, "nip"), (3, "birth_date")}
    for secret in ("1985-03-13", "19850313", "1985-03-12", "19850312", "1992-02-30", "value 'p'"):
        assert secret not in texts


def test_semicolon_delimited_file_is_named_as_such(export_dir: Path) -> None:
    path = export_dir / "units.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",", ";"), encoding="utf-8")

    (error,) = errors_of(export_dir).errors

    assert (error.file, error.row) == ("units.csv", 1) and "delimiter" in error.rule


def test_file_without_header_row_is_an_error(export_dir: Path) -> None:
    path = export_dir / "positions.csv"
    path.write_text("\n".join(path.read_text(encoding="utf-8").splitlines()[1:]) + "\n", encoding="utf-8")

    (error,) = errors_of(export_dir).errors

    assert (error.file, error.row) == ("positions.csv", 1) and "no header row" in error.rule


def test_duplicated_column_name_is_an_error(export_dir: Path) -> None:
    path = export_dir / "units.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines = [lines[0] + ",name"] + [line + ",x" for line in lines[1:]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    (error,) = errors_of(export_dir).errors

    assert (error.file, error.row, error.column) == ("units.csv", 1, "name")


def test_missing_or_broken_export_json(export_dir: Path) -> None:
    (export_dir / "export.json").unlink()
    (error,) = errors_of(export_dir).errors
    assert (error.file, error.rule) == ("export.json", "required file missing")

    (export_dir / "export.json").write_text("{not json", encoding="utf-8")
    (error,) = errors_of(export_dir).errors
    assert error.file == "export.json" and "not valid JSON" in error.rule


def test_export_json_extra_key_warns_and_organisation_is_optional(export_dir: Path) -> None:
    (export_dir / "export.json").write_text(
        json.dumps({"contract_version": 1, "exported_on": "2026-10-31", "system": "SIMPEG"}), encoding="utf-8")

    export = read_export(export_dir)

    assert export.organisation == ""
    assert export.warnings == ["export.json: unknown key 'system' ignored"]


def test_unknown_table_file_warns(export_dir: Path) -> None:
    write_table_csv(export_dir, "units", read_rows(export_dir, "units"))
    (export_dir / "employee.csv").write_text("nip\n", encoding="utf-8")
    (export_dir / "truth").mkdir()
    (export_dir / "truth" / "levels.csv").write_text("nip\n", encoding="utf-8")

    assert read_export(export_dir).warnings == ["employee.csv: not a table of the contract, ignored"]


def test_a_wrong_width_row_is_still_checked_without_cascading(export_dir: Path) -> None:
    path = export_dir / "employees.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0]  # status cut off
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    invalid = errors_of(export_dir)

    assert [(e.row, e.column) for e in invalid.errors] == [(3, None), (3, "status")]


def test_parquet_all_tables_with_one_bad_cell_and_both_formats_for_another(tmp_path: Path) -> None:
    rows = valid_rows()
    rows["employees"][0]["grade"] = "III/e"
    folder = write_export(tmp_path / "e", rows, parquet=["employees"])
    write_table_parquet(folder, "positions", rows["positions"])

    invalid = errors_of(folder)

    assert [(e.file, e.row, e.column) for e in invalid.errors] == [
        ("positions.csv", None, None), ("employees.parquet", 2, "grade")]


def test_error_log_keeps_the_first_errors_by_file_row_and_column_and_counts_all() -> None:
    log = ErrorLog(cap=3)
    for row in range(100, 0, -1):  # found in reverse order, many more than 4 × cap
        log.add(ContractError("assessments.csv", row, "level", "9", "too high"), file_rank=5)
    log.add(ContractError("units.csv", 7, "kind", "x", "bad"), file_rank=0)

    assert log.total == 101
    assert [(e.file, e.row) for e in log.errors] == [("units.csv", 7), ("assessments.csv", 1), ("assessments.csv", 2)]
