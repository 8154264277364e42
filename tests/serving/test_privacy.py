"""No NIP digit that encodes a birth date or a sex is ever shown where a NIP is masked or echoed (issue 14).

An 18-digit NIP is birth date YYYYMMDD + appointment YYYYMM + sex digit + 3-digit serial
(DATA_CONTRACT.md): a masked NIP shows only the serial (`**************123`). The tests walk the error
paths a NIP can reach: the contract's errors for a broken export (as `kompetensi ingest` prints them),
the API's problems for unknown and invalid NIPs (body, `instance`, `detail`), and every log line written
meanwhile, unexpected errors' tracebacks included.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from features.contract import ContractError, shown_value
from features.io import ExportInvalid, read_export
from features.values import mask_nip
from serving.main import create_app
from tests.exports import BROKEN_EXPORTS, edit_rows, read_rows, set_cell, write_valid_export
from tests.serving.conftest import ServingWorld

REPO = Path(__file__).resolve().parents[2]
UNKNOWN_NIP = "197001011990011007"  # a well-formed NIP of nobody in the world: born 1 January 1970, male
INVALID_NIPS = ("19700101199001100", "1970010119900110079", "197001011990011007" * 3, "19700101199001100x")


def leaked_prefixes(text: str, nips: list[str]) -> list[str]:
    """Digit runs of `text` (4 or more digits) that start a NIP: its birth year, date, appointment or sex."""
    return [run for run in re.findall(r"\d{4,}", text) if any(nip.startswith(run) for nip in nips)]


# ---------------------------------------------------------------------------------------------------
# The mask itself
# ---------------------------------------------------------------------------------------------------
def test_a_masked_nip_shows_only_the_serial() -> None:
    assert mask_nip("198503122010011123") == "***************123"
    assert mask_nip("19850312201001112") == "*" * 17  # cut short: any digit may be the birth date
    assert mask_nip("1985031220100111234") == "***************234"
    assert mask_nip("") == ""


def test_contract_errors_mask_nips_alone_and_in_composite_keys() -> None:
    assert str(ContractError("employees.csv", 12, "nip", "199003152015031002", "18 digits required")) == (
        "employees.csv, row 12, column nip, value '***************002': 18 digits required")
    assert shown_value("nip+competency_id+assessed_on", "199003152015031002, M01, 2024-05-14") == (
        "***************002, M01, 2024-05-14")
    assert shown_value("nip+year", "199003152015031002") == "***************002"  # a cell left out: all masked
    assert "1990" not in repr(ContractError("employees.csv", 2, "nip", "199003152015031002", "x"))


# ---------------------------------------------------------------------------------------------------
# Ingest: every error of a broken export, and what `kompetensi ingest` prints
# ---------------------------------------------------------------------------------------------------
def _more_breaks() -> dict[str, Callable[[Path], object]]:
    def unknown_nip_in_assessments(folder: Path) -> None:
        set_cell(folder, "assessments", 0, nip=UNKNOWN_NIP)

    def duplicate_assessment(folder: Path) -> None:
        edit_rows(folder, "assessments", lambda rows: rows.append(dict(rows[0])))

    def long_and_lettered_nips(folder: Path) -> None:
        set_cell(folder, "employees", 0, nip=read_rows(folder, "employees")[0]["nip"] * 3)
        set_cell(folder, "employees", 1, nip=read_rows(folder, "employees")[1]["nip"][:17] + "x")

    return {f.__name__: f for f in (unknown_nip_in_assessments, duplicate_assessment, long_and_lettered_nips)}


BREAKS = {broken.name: broken.apply for broken in BROKEN_EXPORTS} | _more_breaks()


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_ingest_errors_never_show_birth_date_or_sex_digits(tmp_path: Path, name: str) -> None:
    folder = write_valid_export(tmp_path / "export")
    nips = [row["nip"] for row in read_rows(folder, "employees")] + [UNKNOWN_NIP]
    BREAKS[name](folder)

    with pytest.raises(ExportInvalid) as caught:
        read_export(folder)

    texts = [str(caught.value), repr(caught.value.errors)] + [str(error) for error in caught.value.errors]
    assert leaked_prefixes("\n".join(texts), nips) == []


def test_kompetensi_ingest_output_masks_nips(tmp_path: Path) -> None:
    folder = write_valid_export(tmp_path / "export")
    nips = [row["nip"] for row in read_rows(folder, "employees")] + [UNKNOWN_NIP]
    for apply in _more_breaks().values():
        apply(folder)
    set_cell(folder, "employees", 2, birth_date="1961-01-01", sex="p")
    env = os.environ | {"KOMPETENSI_DATA_DIR": str(tmp_path / "data"),
                        "KOMPETENSI_DB_URL": f"sqlite:///{tmp_path / 'store.db'}"}

    done = subprocess.run([sys.executable, "-m", "kompetensi", "ingest", str(folder)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)

    assert done.returncode != 0 and "contract error" in done.stderr + done.stdout
    assert "***************" in done.stderr
    assert leaked_prefixes(done.stdout + done.stderr, nips) == []


# ---------------------------------------------------------------------------------------------------
# The API's problems, and the logs written meanwhile
# ---------------------------------------------------------------------------------------------------
def _requests(world: ServingWorld) -> list[tuple[str, str, dict[str, object] | None, str]]:
    """(method, path, body, role) of every request that can answer a problem about a NIP."""
    out: list[tuple[str, str, dict[str, object] | None, str]] = []
    for nip in (UNKNOWN_NIP, *INVALID_NIPS):
        out += [("GET", f"/v1/employees/{nip}", None, "reader"),
                ("GET", f"/v1/employees/{nip}/gaps", None, "reader"),
                ("GET", f"/v1/employees/{nip}/recommendations", None, "reader"),
                ("POST", f"/v1/employees/{nip}/gaps", None, "reader"),  # 405
                ("GET", f"/v1/no-such-route/{nip}", None, "reader"),  # 404
                ("GET", f"/v1/employees/{nip}/gaps?horizon_months=0", None, "reader"),
                ("POST", "/v1/whatif", {"nip": nip, "plan": []}, "planner"),
                ("POST", "/v1/plans", {"budget_idr": 10**9, "include_nips": [nip]}, "planner"),
                ("POST", "/v1/plans", {"budget_idr": 10**9, "include_nips": [nip], "exclude_nips": [nip]},
                 "planner")]
    return out


def test_api_problems_and_logs_never_show_birth_date_or_sex_digits(
        world: ServingWorld, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    app = create_app(world.settings(), poll_seconds=None)
    seen: list[int] = []
    with TestClient(app) as client:
        for method, path, body, role in _requests(world):
            response = client.request(method, path, json=body, headers=world.auth(role))
            seen.append(response.status_code)
            assert response.status_code in (404, 405, 422), (method, path, response.status_code)
            assert leaked_prefixes(response.text, [UNKNOWN_NIP]) == [], (method, path, response.text)
    assert {404, 405, 422} <= set(seen)
    ours = [record for record in caplog.records if not record.name.startswith("httpx")]  # the client's log
    logged = "\n".join(caplog.handler.format(record) for record in ours)
    assert ours and leaked_prefixes(logged, [UNKNOWN_NIP]) == []


def test_unknown_employee_problem_names_the_masked_nip(client: TestClient, world: ServingWorld) -> None:
    body = client.get(f"/v1/employees/{UNKNOWN_NIP}", headers=world.auth("reader")).json()

    assert body["status"] == 404 and body["type"].endswith("unknown-employee")
    assert body["instance"] == "/v1/employees/***************007"
    assert "***************007" in body["detail"]


def test_a_traceback_quoting_a_nip_is_logged_masked(world: ServingWorld, caplog: pytest.LogCaptureFixture
                                                    ) -> None:
    app = create_app(world.settings(), poll_seconds=None)

    @app.get("/boom/{nip}")
    def boom(nip: str) -> None:
        raise KeyError(nip)

    caplog.set_level(logging.DEBUG)
    with TestClient(app) as client:
        response = client.get(f"/boom/{world.nip}")
    assert response.status_code == 500 and world.nip[:4] not in response.text
    logged = "\n".join(caplog.handler.format(r) for r in caplog.records if not r.name.startswith("httpx"))
    assert "KeyError" in logged and leaked_prefixes(logged, [world.nip]) == []
