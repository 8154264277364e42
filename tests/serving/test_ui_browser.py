"""The planner UI at /ui/: the router's files (fast, no browser), then what a person sees in Chromium.

The browser tests drive Debian's Chromium through Playwright against a real `serve()` process on the
serving world (a trained model and keys): find an employee, see the gaps and why, try a training in the
what-if panel, open the unit, make a plan for a budget and download it. One screenshot per page goes to
test-artifacts/. Where Playwright or Chromium cannot start they skip with the reason locally, and fail
in CI (CI=true), which installs Chromium (.ci/run).
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
from fastapi.testclient import TestClient

from features.settings import Settings
from serving.main import create_app
from serving.routers.ui import plotly_js_path
from tests.expected_skips import in_ci
from tests.serving.conftest import ServingWorld
from tests.serving.server import running_server

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 60_000
PLAN_BUDGET = 50_000_000
MONTHS = ("januari", "februari", "maret", "april", "mei", "juni", "juli", "agustus", "september", "oktober",
          "november", "desember")


# ---------------------------------------------------------------------------------------------------
# The router (no browser, no model)
# ---------------------------------------------------------------------------------------------------
@pytest.fixture
def bare_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, models_dir=tmp_path / "models")
    with TestClient(create_app(settings, poll_seconds=None)) as client:
        yield client


def test_ui_files_are_served_without_a_key(bare_client: TestClient) -> None:
    index = bare_client.get("/ui/")
    assert index.status_code == 200
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert '<html lang="id">' in index.text and 'src="vendor/plotly.min.js"' in index.text
    assert "default-src 'self'" in index.headers["content-security-policy"]
    assert index.headers["x-content-type-options"] == "nosniff"
    redirect = bare_client.get("/ui", follow_redirects=False)
    assert redirect.status_code == 308 and redirect.headers["location"] == "/ui/"
    for path in ("/ui/js/app.js", "/ui/js/employee.js", "/ui/js/unit.js", "/ui/js/plan.js"):
        module = bare_client.get(path)
        assert module.status_code == 200, path
        assert module.headers["content-type"] == "text/javascript; charset=utf-8"
    assert bare_client.get("/ui/style.css").headers["content-type"] == "text/css; charset=utf-8"


def test_plotly_comes_from_the_installed_package(bare_client: TestClient) -> None:
    response = bare_client.get("/ui/vendor/plotly.min.js")
    assert response.status_code == 200
    assert response.content == plotly_js_path().read_bytes()
    assert "site-packages" in str(plotly_js_path()) or "dist-packages" in str(plotly_js_path())
    assert not list((REPO / "serving" / "ui").rglob("plotly*.js"))  # never copied into the repository
    assert "max-age" in response.headers["cache-control"]


@pytest.mark.parametrize("path", ["/ui/nope.js", "/ui/../main.py", "/ui/js/../../routers/ui.py",
                                  "/ui/..%2f..%2fpyproject.toml", "/ui/js/", "/ui/%00.js"])
def test_nothing_outside_the_ui_directory_is_served(bare_client: TestClient, path: str) -> None:
    response = bare_client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_the_ui_loads_nothing_from_elsewhere() -> None:
    """No CDN, no web font, no absolute URL: the pages work without internet access."""
    sources = [p for p in (REPO / "serving" / "ui").rglob("*") if p.suffix in {".html", ".js", ".css"}]
    assert len(sources) >= 8
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), path
        assert not re.search(r"\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write", text), path
        assert "localStorage" not in text, path  # the key lives in sessionStorage only


# ---------------------------------------------------------------------------------------------------
# The browser
# ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ui_server(world: ServingWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`serve()` in a subprocess on a free loopback port (poller off), stopped after the module."""
    log = tmp_path_factory.mktemp("ui-server") / "server.log"
    with running_server(world, log, log_level="warning") as base:
        yield base


def _no_browser(reason: str) -> NoReturn:
    """Skip with the reason locally; in CI the browser tests must run, so fail instead."""
    if in_ci():
        pytest.fail(f"{reason}; CI (CI=true) must run the browser tests", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright; if it cannot start: a skip locally, a failure in CI."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("Playwright is not installed (pip install -e '.[dev]'); browser tests need it")
    executable = os.environ.get("KOMPETENSI_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).is_file():
        _no_browser(f"Chromium not found at {executable} (apt-get install chromium)")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        except PlaywrightError as exc:
            _no_browser(f"Chromium at {executable} could not start: {str(exc).splitlines()[0]}")
        yield chromium
        chromium.close()


class Visit:
    """A fresh browser context (empty sessionStorage) on the UI, recording what the page asks for."""

    def __init__(self, browser: Any, base: str, world: ServingWorld) -> None:
        self.base = base
        self.world = world
        self.context = browser.new_context(viewport={"width": 1300, "height": 900}, locale="id-ID",
                                           accept_downloads=True)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.requests: list[str] = []
        self.problems: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("console", self._console)

    def _console(self, message: Any) -> None:
        # A failed API call (401/404 on purpose) is logged by the browser as a console error; scripts
        # errors and CSP violations are what must not happen.
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.problems.append(f"console: {message.text}")

    def open(self, hash_route: str = "#/pegawai", role: str = "planner") -> Any:
        page = self.page
        page.goto(f"{self.base}/ui/{hash_route}")
        dialog = page.locator("#key-dialog")
        dialog.wait_for(state="visible")
        page.fill("#key-input", self.world.keys[role])
        page.press("#key-input", "Enter")
        dialog.wait_for(state="hidden")
        page.locator("#model-info").filter(has_text="Model v2").wait_for()
        return page

    def search(self, nip: str) -> None:
        self.page.fill("#nip-input", nip)
        self.page.press("#nip-input", "Enter")  # keyboard only

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / name), full_page=True)

    def close(self) -> None:
        self.context.close()

    def assert_clean(self) -> None:
        assert self.problems == []
        foreign = [url for url in self.requests if not url.startswith((self.base, "blob:", "data:"))]
        assert foreign == []  # works without internet access


@pytest.fixture
def visit(browser: Any, ui_server: str, world: ServingWorld) -> Iterator[Visit]:
    v = Visit(browser, ui_server, world)
    try:
        yield v
    finally:
        v.close()


def _api(world: ServingWorld, base: str, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, f"{base}{path}", headers=world.auth("planner"), timeout=120, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def _other_position(world: ServingWorld) -> tuple[str, str] | None:
    """(position_id, title) of another position with a standard in the employee's job family."""
    with (world.export_dir / "positions.csv").open(encoding="utf-8") as handle:
        positions = {row["position_id"]: row for row in csv.DictReader(handle)}
    with (world.export_dir / "position_standards.csv").open(encoding="utf-8") as handle:
        standardised = {row["position_id"] for row in csv.DictReader(handle)}
    family = positions[world.position_id]["job_family"]
    others = sorted(p for p, row in positions.items()
                    if row["job_family"] == family and p != world.position_id and p in standardised)
    return (others[0], positions[others[0]]["title"]) if others else None


def _number(text: str, lang: str = "id") -> float:
    """A number as the page shows it ("1.234,56" in Indonesian, "1,234.56" in English) → float."""
    thousands, decimal = (".", ",") if lang == "id" else (",", ".")
    match = re.search(r"[-+]?[0-9][0-9.,]*", text.replace("\u2212", "-"))
    assert match, f"no number in {text!r}"
    return float(match.group(0).replace(thousands, "").replace(decimal, "."))


def _whole(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def _rupiah(value: int) -> str:
    return f"Rp {_whole(value)}"


def _assert_shows(text: str, value: float) -> None:
    """`text` is `value` with two decimals in Indonesian format (2,40), to rounding."""
    assert re.fullmatch(r"[-+]?[0-9]{1,3}(\.[0-9]{3})*,[0-9]{2}", text.strip()), text
    assert abs(_number(text) - value) <= 0.0051, (text, value)


@pytest.mark.slow
def test_employee_page_shows_gaps_reasons_and_a_whatif(visit: Visit, world: ServingWorld) -> None:
    gaps = _api(world, visit.base, "GET", f"/v1/employees/{world.nip}/gaps")
    recs = _api(world, visit.base, "GET", f"/v1/employees/{world.nip}/recommendations", params={"limit": 20})
    profile = _api(world, visit.base, "GET", f"/v1/employees/{world.nip}")
    page = visit.open()
    assert page.locator("html").get_attribute("lang") == "id"
    assert page.locator("nav a[aria-current=page]").inner_text() == "Pegawai"
    visit.search(world.nip)

    # Profile: unit and position, no protected attribute.
    card = page.locator("section.profile")
    card.wait_for()
    assert profile["unit"]["name"] in card.inner_text() and profile["position"]["title"] in card.inner_text()

    # Gaps: one row per required competency, numbers in Indonesian format, the chart with 3 series.
    rows = page.locator("#gaps-table tbody tr")
    assert rows.count() == len(gaps["competencies"]) > 0
    first = gaps["competencies"][0]
    cells = rows.nth(0).locator("td")
    assert rows.nth(0).locator("th").inner_text().startswith(first["name"])
    _assert_shows(cells.nth(1).inner_text(), first["predicted_level"])
    assert cells.nth(2).inner_text() == cells.nth(2).inner_text().replace(".", ",")  # 2,50–3,92
    assert cells.nth(3).inner_text() == str(first["required_level"])
    _assert_shows(cells.nth(4).inner_text(), first["gap"])
    _assert_shows(page.locator("#gaps-total").inner_text().split(":")[1].replace("level", ""), gaps["total_gap"])
    page.locator("#gap-chart .main-svg").first.wait_for()
    assert page.locator("#gap-chart .scatterlayer .trace").count() == 3
    assert page.locator("#gap-chart .legendtext").all_text_contents() == [
        "Prediksi (rentang 80%)", "Standar jabatan", "Level saat ini"]

    # Why: the largest gap is explained open, in the API's Indonesian sentences; the others open by keyboard.
    largest = max(gaps["competencies"], key=lambda c: c["gap"])
    opened = page.locator("details.explanation[open]")
    assert opened.count() == 1 and opened.get_attribute("data-competency") == largest["competency_id"]
    for contribution in largest["explanation"]["contributions"]:
        assert contribution["text"] in opened.inner_text()
    other = next(c for c in gaps["competencies"] if c is not largest)
    closed = page.locator(f"details.explanation[data-competency='{other['competency_id']}']")
    closed.locator("summary").focus()
    page.keyboard.press("Enter")
    assert closed.get_attribute("open") is not None
    assert other["explanation"]["contributions"][0]["text"] in closed.inner_text()

    # Recommendations with reasons, cost in Rupiah.
    best = recs["items"][0]
    card = page.locator("li.rec").first
    assert best["title"] in card.inner_text() and _rupiah(best["cost_idr"]) in card.inner_text()
    for reason in best["reasons"]:
        assert reason in card.inner_text()

    # What-if: add the best training → the scenario's totals appear at once; remove it → back to empty.
    whatif = _api(world, visit.base, "POST", "/v1/whatif", json={"nip": world.nip, "plan": [best["training_id"]]})
    card.locator("button.add-to-whatif").click()
    _assert_shows(page.locator("#whatif-after").inner_text(), whatif["total_gap_after"])
    _assert_shows(page.locator("#whatif-before").inner_text(), whatif["total_gap_before"])
    assert whatif["total_gap_after"] < whatif["total_gap_before"]
    assert page.locator("#whatif-change").inner_text().startswith("-")
    assert whatif["summary"][-1] in page.locator("#whatif-result").inner_text()
    changed = [d for d in whatif["delta"] if abs(d["gap_change"]) > 1e-6 or abs(d["predicted_level_change"]) > 1e-6]
    assert page.locator("#whatif-table tbody tr").count() == len(changed) > 0
    page.locator(".whatif-chart .main-svg").first.wait_for()
    assert page.locator("#whatif-plan li").count() == 1
    visit.screenshot("ui-employee.png")

    # A second training by its code (keyboard), then both removed with their buttons.
    second = next((i for i in recs["items"][1:]), None)
    if second is not None:
        page.fill("#whatif-code", second["training_id"])
        page.press("#whatif-code", "Enter")
        expected = _api(world, visit.base, "POST", "/v1/whatif",
                        json={"nip": world.nip, "plan": [best["training_id"], second["training_id"]]})
        page.locator("#whatif-plan li").nth(1).wait_for()
        page.locator("#whatif-after").filter(has_text=re.compile(".")).wait_for()
        page.wait_for_function("() => !document.querySelector('#whatif-result[aria-busy]')")
        _assert_shows(page.locator("#whatif-after").inner_text(), expected["total_gap_after"])
    while page.locator("#whatif-plan li").count():
        page.locator("#whatif-plan li button.chip-remove").first.click()
    page.locator("#whatif-result .empty").wait_for()

    # Another position of the same job family: the scenario is measured against its standard.
    other = _other_position(world)
    if other is not None:
        position_id, title = other
        moved = _api(world, visit.base, "POST", "/v1/whatif", json={"nip": world.nip, "plan": [],
                                                                    "position_id": position_id})
        page.fill("#whatif-position", position_id)
        page.press("#whatif-position", "Enter")
        page.locator("#whatif-result").filter(has_text=f"standar jabatan {title}").wait_for()
        _assert_shows(page.locator("#whatif-after").inner_text(), moved["total_gap_after"])

    # Nothing protected anywhere on the page; the key only in sessionStorage.
    text = page.locator("body").inner_text().lower()
    birth = world.protected["birth_date"]
    yyyy, mm, dd = birth.split("-")
    for leaked in (birth, f"{dd}-{mm}-{yyyy}", f"{dd}/{mm}/{yyyy}", f"{int(dd)} {MONTHS[int(mm) - 1]} {yyyy}",
                   "tanggal lahir", "jenis kelamin"):
        assert leaked not in text
    assert page.evaluate("() => localStorage.length") == 0
    assert page.evaluate("() => sessionStorage.getItem('kompetensi.apiKey')") == world.keys["planner"]
    visit.assert_clean()


@pytest.mark.slow
def test_errors_a_planner_can_act_on(visit: Visit, world: ServingWorld) -> None:
    page = visit.page
    page.goto(f"{visit.base}/ui/")
    page.locator("#key-dialog").wait_for(state="visible")
    page.fill("#key-input", "not-a-key")
    page.press("#key-input", "Enter")
    page.locator("#key-error").filter(has_text="Kunci API tidak valid").wait_for()
    assert page.locator("#key-dialog").is_visible()
    assert page.evaluate("() => sessionStorage.getItem('kompetensi.apiKey')") is None

    page.fill("#key-input", world.keys["planner"])
    page.press("#key-input", "Enter")
    page.locator("#key-dialog").wait_for(state="hidden")
    visit.search("12345")
    assert page.locator("#nip-error").inner_text() == "NIP harus 18 digit angka."
    visit.search("199901012020011999")
    page.locator("#emp-content .notice.error").filter(has_text="NIP tidak ditemukan.").wait_for()

    # A what-if with a training code the server does not know says so and keeps the panel usable.
    visit.search(world.nip)
    page.locator("#whatif-code").fill("PLT-TIDAK-ADA")
    page.press("#whatif-code", "Enter")
    page.locator("#whatif-result .notice.error").filter(has_text="Kode pelatihan tidak ditemukan").wait_for()
    assert page.locator("#whatif-plan li").count() == 0
    page.fill("#whatif-position", "JAB-TIDAK-ADA")
    page.press("#whatif-position", "Enter")
    page.locator("#whatif-result .notice.error").filter(
        has_text="Kode jabatan tidak ditemukan. (JAB-TIDAK-ADA)").wait_for()

    # A key that stops working (revoked) → the key is asked for again, and the page then continues.
    page.evaluate("() => sessionStorage.setItem('kompetensi.apiKey', 'revoked-key')")
    visit.search(world.nip)
    page.locator("#key-error").filter(has_text="Masukkan kunci API lagi").wait_for()
    page.fill("#key-input", world.keys["planner"])
    page.press("#key-input", "Enter")
    page.locator("#gaps-table").wait_for()

    # A reader key sees the employee but may not run a what-if: it is told so.
    page.click("#change-key")
    page.fill("#key-input", world.keys["reader"])
    page.press("#key-input", "Enter")
    page.locator("#key-dialog").wait_for(state="hidden")
    visit.search(world.nip)
    page.locator("li.rec button.add-to-whatif").first.click()
    page.locator("#whatif-result .notice.error").filter(has_text="perlu peran perencana").wait_for()
    visit.assert_clean()


@pytest.mark.slow
def test_english_switch(visit: Visit, world: ServingWorld) -> None:
    gaps_en = _api(world, visit.base, "GET", f"/v1/employees/{world.nip}/gaps", params={"lang": "en"})
    page = visit.open()
    visit.search(world.nip)
    page.locator("#gaps-table").wait_for()
    page.click("#lang-switch")
    page.locator("nav a[aria-current=page]").filter(has_text="Employee").wait_for()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#lang-switch").inner_text() == "Bahasa Indonesia"
    largest = max(gaps_en["competencies"], key=lambda c: c["gap"])
    page.locator("#gaps-title").filter(has_text="Competency gaps").wait_for()
    opened = page.locator("details.explanation[open]")
    opened.filter(has_text=largest["explanation"]["contributions"][0]["text"]).wait_for()
    shown = page.locator("#gaps-total").inner_text()
    assert shown.startswith("Total gap:") and re.search(r"[0-9],[0-9]{2}", shown) is None  # 3.49, not 3,49
    assert abs(_number(shown, "en") - gaps_en["total_gap"]) <= 0.0051
    page.click("#lang-switch")
    page.locator("#gaps-title").filter(has_text="Kesenjangan kompetensi").wait_for()
    visit.assert_clean()


@pytest.mark.slow
def test_unit_page(visit: Visit, world: ServingWorld) -> None:
    summary = _api(world, visit.base, "GET", f"/v1/units/{world.unit_id}/summary")
    page = visit.open()
    visit.search(world.nip)
    page.locator("section.profile a[href^='#/unit/']").click()  # from the employee to their unit
    page.locator("#unit-name").filter(has_text=summary["name"]).wait_for()
    assert page.locator("nav a[aria-current=page]").inner_text() == "Unit"
    assert page.locator("#unit-input").input_value() == world.unit_id

    page.locator(".heatmap .main-svg").first.wait_for()
    types = {row["position_type"] for row in summary["gap_by_position_type"]}
    assert page.locator(".heatmap .hm").count() == 1  # one heat-map trace
    labels = page.locator(".heatmap .main-svg").first.text_content() or ""
    for position_type in types:  # one row per position type, in words
        assert position_type.replace("_", " ").capitalize() in labels
    for competency in summary["competencies"]:
        assert competency["name"] in labels
    jp = summary["jp_compliance"]
    jp_text = page.locator("#jp-compliance").inner_text()
    assert jp_text.startswith(f"{jp['employees_meeting_20_jp']} dari {summary['employees']} pegawai")
    assert abs(_number(jp_text.split("(")[1]) - 100 * jp["share"]) <= 0.051
    bands = page.locator("#jpm-table tbody tr")
    assert [int(bands.nth(i).locator("td").inner_text()) for i in range(3)] == [
        summary["jpm_bands"].get(b, 0) for b in ("memenuhi_syarat", "masih_memenuhi_syarat", "kurang_memenuhi_syarat")]
    assert page.locator("#unit-competencies tbody tr").count() == len(summary["competencies"])
    top = page.locator("#unit-top tbody tr")
    assert top.count() == len(summary["top_trainings"]) > 0
    assert summary["top_trainings"][0]["title"] in top.nth(0).inner_text()
    visit.screenshot("ui-unit.png")

    page.fill("#unit-input", "UNIT-TIDAK-ADA")
    page.press("#unit-input", "Enter")
    page.locator("#unit-content .notice.error").filter(has_text="Unit tidak ditemukan").wait_for()
    visit.assert_clean()


def _small_unit(world: ServingWorld) -> str:
    """A unit with 1–4 active employees counting its sub-units: every learning-culture figure is hidden."""
    with (world.export_dir / "units.csv").open(encoding="utf-8") as handle:
        parent = {row["unit_id"]: row["parent_unit_id"] for row in csv.DictReader(handle)}
    with (world.export_dir / "employees.csv").open(encoding="utf-8") as handle:
        active = [row["unit_id"] for row in csv.DictReader(handle) if row["status"] == "aktif"]
    staff: dict[str, int] = {}
    for unit in active:
        while unit:
            staff[unit] = staff.get(unit, 0) + 1
            unit = parent.get(unit, "")
    return min(u for u, n in staff.items() if n < 5)


@pytest.mark.slow
def test_unit_page_shows_the_learning_culture(visit: Visit, world: ServingWorld) -> None:
    summary = _api(world, visit.base, "GET", f"/v1/units/{world.unit_id}/summary")
    culture = summary["learning_culture"]
    figures = [culture["completion_rate"], culture["no_training_share"]] + [
        y["figure"] for y in culture["jp_compliance"]]
    assert all(f["value"] is not None for f in figures), "the world's unit should show every figure"
    page = visit.open(f"#/unit/{world.unit_id}")
    panel = page.locator("#learning-culture")
    panel.locator("h2").filter(has_text="Budaya belajar").wait_for()
    assert page.locator("#culture-note").inner_text() == culture["note"]
    assert panel.locator("table caption").inner_text().startswith("Budaya belajar unit")
    rows = page.locator("#culture-table tbody tr")
    assert rows.count() == len(figures) == 6
    assert rows.nth(0).locator("th").inner_text() == "Pelatihan yang diselesaikan (36 bulan terakhir)"
    assert "makin rendah makin baik" in rows.nth(1).locator("th").inner_text()
    last = culture["jp_compliance"][-1]
    assert rows.nth(5).locator("th").inner_text() == f"Memenuhi 20 JP tahun {last['year']} (sejauh ini)"
    for i, figure in enumerate(figures):
        cells = rows.nth(i).locator("td")
        assert re.fullmatch(r"[0-9]{1,3},[0-9]%", cells.nth(0).inner_text()), cells.nth(0).inner_text()
        assert abs(_number(cells.nth(0).inner_text()) - 100 * figure["value"]) <= 0.051
        q1, median, q3 = (_number(part) for part in cells.nth(1).inner_text().split("·"))
        assert abs(median - 100 * figure["city"]["median"]) <= 0.51
        assert q1 <= median <= q3
        city = figure["city"]
        assert cells.nth(2).inner_text() == f"persentil {int(city['unit_percentile'] + 0.5)} dari {city['units']} unit"
        bar = cells.nth(3).locator(".range-bar")
        assert bar.get_attribute("aria-hidden") == "true"  # the numbers are in the table
        assert bar.locator(".range-unit").count() == 1 and bar.locator(".range-median").count() == 1
    assert not re.search(r"[0-9]{18}", page.locator("#unit-content").inner_text())  # no NIP on a unit page
    visit.screenshot("ui-unit-culture.png")

    english = _api(world, visit.base, "GET", f"/v1/units/{world.unit_id}/summary", params={"lang": "en"})
    page.click("#lang-switch")
    panel.locator("h2").filter(has_text="Learning culture").wait_for()
    page.locator("#culture-note").filter(has_text=english["learning_culture"]["note"]).wait_for()
    assert rows.nth(0).locator("th").inner_text() == "Trainings completed (last 36 months)"
    assert rows.nth(5).locator("th").inner_text() == f"Reached 20 JP in {last['year']} (so far)"
    shown = rows.nth(0).locator("td").nth(0).inner_text()
    assert re.fullmatch(r"[0-9]{1,3}\.[0-9]%", shown), shown
    assert abs(_number(shown, "en") - 100 * figures[0]["value"]) <= 0.051
    assert rows.nth(0).locator("td").nth(2).inner_text().startswith("percentile ")

    # A unit of fewer than 5 people: every figure hidden, with why; the city's range still shown.
    page.fill("#unit-input", _small_unit(world))
    page.press("#unit-input", "Enter")
    page.locator("#culture-hidden-note").filter(has_text="fewer than 5").wait_for()
    for i in range(rows.count()):
        assert rows.nth(i).locator("td").nth(0).inner_text().startswith("hidden")
        assert rows.nth(i).locator("td").nth(2).inner_text() == "–"
        assert rows.nth(i).locator(".range-unit").count() == 0
    assert rows.nth(0).locator("td").nth(1).inner_text() != "–"
    visit.assert_clean()


@pytest.mark.slow
def test_plan_page_makes_a_plan_for_a_budget(visit: Visit, world: ServingWorld, tmp_path: Path) -> None:
    curve_budgets = [round(PLAN_BUDGET * f / 1000) * 1000 for f in (0.25, 0.5, 0.75, 1, 1.5, 2)]
    body = {"budget_idr": PLAN_BUDGET, "unit_ids": [world.unit_id], "max_trainings_per_employee": 2,
            "horizon_months": 12, "curve_budgets": curve_budgets}
    plan = _api(world, visit.base, "POST", "/v1/plans", json=body)
    assert plan["allocations"], "the test budget should buy at least one training"

    page = visit.open(f"#/unit/{world.unit_id}")
    page.locator("#unit-plan").click()  # from the unit to a plan for it
    assert page.locator("#plan-units").input_value() == world.unit_id
    page.fill("#plan-budget", "lima puluh juta")
    page.click("#plan-submit")
    assert page.locator("#plan-budget-error").inner_text().startswith("Isi anggaran dengan angka rupiah")
    page.fill("#plan-budget", "50.000.000")
    page.press("#plan-budget", "Enter")

    page.locator("#plan-total-cost").wait_for()
    totals = plan["totals"]
    assert page.locator("#plan-total-cost").inner_text() == _rupiah(totals["cost_idr"])
    assert totals["cost_idr"] <= PLAN_BUDGET
    _assert_shows(page.locator("#plan-total-gain").inner_text(), totals["expected_gain"])
    assert page.locator("#plan-total-employees").inner_text() == _whole(totals["employees"])
    assert page.locator("#plan-total-standard").inner_text() == _whole(totals["employees_reaching_standard"])
    rows = page.locator("#plan-table tbody tr")
    assert rows.count() == min(len(plan["allocations"]), 200)
    first = plan["allocations"][0]
    assert rows.nth(0).locator("th").inner_text() == first["nip"]
    assert _rupiah(first["cost_idr"]) in rows.nth(0).inner_text()

    page.locator(".curve-chart .main-svg").first.wait_for()
    assert page.locator(".curve-chart .scatterlayer .trace").count() == 2  # the curve and this budget
    assert page.locator(".curve-chart .scatterlayer .trace").first.locator(".point").count() == len(plan["curve"])
    visit.screenshot("ui-plan.png")

    with page.expect_download() as download_info:
        page.click("#plan-download")
    download = download_info.value
    assert download.suggested_filename == f"rencana-pelatihan-{PLAN_BUDGET}.csv"
    saved = tmp_path / "plan.csv"
    download.save_as(saved)
    table = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert len(table) == len(plan["allocations"])
    assert {"nip", "training_id", "expected_gain", "cost_idr", "hours_jp"} <= set(table[0])
    assert sum(int(row["cost_idr"]) for row in table) == totals["cost_idr"]
    assert [(r["nip"], r["training_id"]) for r in table] == [(a["nip"], a["training_id"]) for a in plan["allocations"]]
    visit.assert_clean()
