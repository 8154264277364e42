"""The skip guard of tests/conftest.py, on tiny pytest sessions in a subprocess (about a second in all).

In CI (CI=true) a skip not listed in tests/expected_skips.py fails the run and is named with its reason;
locally it is only reported; a listed skip (pattern and reason fragment) passes; an xfail is no skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.expected_skips import EXPECTED_SKIPS

REPO = Path(__file__).resolve().parents[1]

SAMPLE = '''
import pytest

def test_passes():
    pass

def test_skips_in_the_body():
    pytest.skip("no frobnicator here")

@pytest.fixture
def widget():
    pytest.skip("widget cannot start")

def test_skips_in_a_fixture(widget):
    pass

@pytest.mark.skipif(True, reason="marked away")
def test_skipped_by_mark():
    pass

@pytest.mark.xfail(reason="known bug", strict=True)
def test_xfails():
    assert False
'''
MODULE_SKIP = '''
import pytest
pytest.importorskip("no_such_module_for_the_skip_guard")

def test_never_collected():
    pass
'''
# Everything the sample skips, except the fixture's skip (same file, other reason) for one check.
ALLOWED = {
    ("test_sample.py::test_skips_in_*", "frobnicator"): "the frobnicator is not on CI machines",
    ("test_sample.py::test_skips_in_a_fixture", "no such reason"): "a reason fragment that does not match",
    ("test_sample.py::test_skipped_by_mark", "marked away"): "marked away on purpose",
    ("test_module_skip.py", "no_such_module_for_the_skip_guard"): "an optional module",
}
CUSTOM_GUARD = '''
from tests.conftest import SkipGuard
from tests.expected_skips import in_ci

def pytest_configure(config):
    config.pluginmanager.register(SkipGuard({allowed!r}, ci=in_ci()), "skip-guard")
'''


def _session(tmp_path: Path, *, ci: bool, allowed: dict[tuple[str, str], str] | None = None,
             ) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # rootdir here, not the repository
    (tmp_path / "test_sample.py").write_text(SAMPLE, encoding="utf-8")
    (tmp_path / "test_module_skip.py").write_text(MODULE_SKIP, encoding="utf-8")
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    if allowed is None:
        args += ["-p", "tests.conftest"]  # the suite's own guard and allow-list
    else:
        (tmp_path / "conftest.py").write_text(CUSTOM_GUARD.format(allowed=allowed), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "CI"}
    env |= {"PYTHONPATH": str(REPO), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    if ci:
        env["CI"] = "true"
    return subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)


def _unexpected(output: str) -> set[str]:
    return {line.removeprefix("UNEXPECTED SKIP ") for line in output.splitlines()
            if line.startswith("UNEXPECTED SKIP ")}


ALL_SKIPS = {
    "test_sample.py::test_skips_in_the_body: no frobnicator here",
    "test_sample.py::test_skips_in_a_fixture: widget cannot start",
    "test_sample.py::test_skipped_by_mark: marked away",
    "test_module_skip.py: could not import 'no_such_module_for_the_skip_guard': "
    "No module named 'no_such_module_for_the_skip_guard'",
}


def test_an_unlisted_skip_fails_the_run_in_ci_and_is_named(tmp_path: Path) -> None:
    done = _session(tmp_path, ci=True)
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    assert "unexpected skip(s) in CI: the run fails" in done.stdout
    assert _unexpected(done.stdout) == ALL_SKIPS  # each skip with its reason; the xfail is not one
    assert "1 passed, 4 skipped, 1 xfailed" in done.stdout


def test_locally_skips_are_allowed_but_reported(tmp_path: Path) -> None:
    done = _session(tmp_path, ci=False)
    assert done.returncode == pytest.ExitCode.OK, done.stdout + done.stderr
    assert "skip(s) that would fail CI" in done.stdout
    assert _unexpected(done.stdout) == ALL_SKIPS


def test_listed_skips_pass_in_ci_and_the_reason_must_match(tmp_path: Path) -> None:
    done = _session(tmp_path, ci=True, allowed=ALLOWED)
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    assert _unexpected(done.stdout) == {"test_sample.py::test_skips_in_a_fixture: widget cannot start"}

    allowed = ALLOWED | {("test_sample.py::test_skips_in_a_fixture", "widget"): "widgets need a display"}
    done = _session(tmp_path, ci=True, allowed=allowed)
    assert done.returncode == pytest.ExitCode.OK, done.stdout + done.stderr
    assert _unexpected(done.stdout) == set()


def test_every_expected_skip_says_why() -> None:
    for (pattern, fragment), why in EXPECTED_SKIPS.items():
        assert pattern.startswith("tests/") and fragment.strip() and len(why.strip()) > 10, (pattern, fragment)
