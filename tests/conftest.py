"""Suite-wide guards.

Skip guard: in CI (CI=true) every skipped test must be listed, with its reason, in
tests/expected_skips.py; any other skip makes the run exit non-zero, and the end of the report names
each unexpected skip and its reason. Locally skips stay allowed and are only reported. An xfail is not
a skip. Skips at import (a module-level `pytest.skip` or `importorskip`) count too.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase

import pytest

from tests.expected_skips import EXPECTED_SKIPS, in_ci

ALLOW_LIST_FILE = "tests/expected_skips.py"


def _skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


class SkipGuard:
    """Records every skip of the session; in CI, fails the session on those `allowed` does not expect."""

    def __init__(self, allowed: Mapping[tuple[str, str], str], ci: bool) -> None:
        empty = [pattern for pattern, why in allowed.items() if not str(why).strip()]
        if empty:
            raise pytest.UsageError(f"{ALLOW_LIST_FILE}: say why each skip is expected; no reason for {empty}")
        self.allowed = dict(allowed)
        self.ci = ci
        self.skips: dict[str, str] = {}  # nodeid → skip reason, in the order they happened

    def expected(self, nodeid: str, reason: str) -> bool:
        return any(fnmatchcase(nodeid, pattern) and fragment in reason
                   for pattern, fragment in self.allowed)

    def unexpected(self) -> list[tuple[str, str]]:
        return [(nodeid, reason) for nodeid, reason in self.skips.items() if not self.expected(nodeid, reason)]

    def _record(self, report: pytest.CollectReport | pytest.TestReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            self.skips.setdefault(report.nodeid, _skip_reason(report))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._record(report)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._record(report)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.ci and self.unexpected() and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        unexpected = self.unexpected()
        if not unexpected:
            return
        if self.ci:
            terminalreporter.write_sep("=", f"{len(unexpected)} unexpected skip(s) in CI: the run fails", red=True)
            terminalreporter.write_line(f"Make these tests run in CI, or list them with why in {ALLOW_LIST_FILE}:")
        else:
            terminalreporter.write_sep("=", f"{len(unexpected)} skip(s) that would fail CI", yellow=True)
            terminalreporter.write_line(f"Allowed locally; in CI (CI=true) only the skips in {ALLOW_LIST_FILE} are:")
        for nodeid, reason in unexpected:
            terminalreporter.write_line(f"UNEXPECTED SKIP {nodeid}: {reason}")


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("skip-guard"):
        config.pluginmanager.register(SkipGuard(EXPECTED_SKIPS, ci=in_ci()), "skip-guard")
