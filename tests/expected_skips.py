"""The one list of tests that may skip in CI, each with why; every other skip in CI fails the run.

The guard is in tests/conftest.py. In CI (environment CI=true) a test that skips and matches no entry
here makes pytest exit non-zero, naming the test and its skip reason. Locally skips stay allowed, and
the ones not listed here are reported at the end of the run.

An entry is `(nodeid pattern, reason fragment): why the skip is expected in CI`:

    ("tests/some/test_file.py::test_name*", "fragment of the skip reason"): "why CI cannot run it",

The nodeid pattern is an `fnmatch` pattern over the pytest node id (a module skipped at import has the
node id of its file, e.g. "tests/test_x.py"); the reason fragment must occur in the skip reason
("" matches any reason, so give one). An xfail is not a skip and needs no entry.

Nothing skips in CI today, so the list is empty. What can skip, and why none of it is expected in CI:
- PostgreSQL tests (tests/conftest_pg.py): CI installs PostgreSQL 15 and the fixture starts it.
- Browser tests (tests/serving/test_ui_browser.py): .ci/run installs Chromium or fails; the browser
  fixture itself fails in CI instead of skipping.
- Notebook tests (importorskip of nbformat, ipykernel): both are in the `dev` extra that CI installs.
- "not in this API/CLI yet" skips: POST /v1/plans and `kompetensi plan` exist, so such a skip in CI
  would hide a regression.
- importorskip of our own modules (features.io): a missing module of ours is a failure, not a skip.
"""

from __future__ import annotations

import os

EXPECTED_SKIPS: dict[tuple[str, str], str] = {}


def in_ci() -> bool:
    """Whether this run is CI's (CI sets CI=true; .ci/run exports it too)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1"}
