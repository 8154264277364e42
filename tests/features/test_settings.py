"""The one Settings object (features/settings.py): every variable keeps its name, defaults, validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from features.settings import Settings

# field → (environment variable, a value, the field's value then, the default)
VARIABLES = {
    "fairness_min_rate_ratio": ("KOMPETENSI_FAIRNESS_MIN_RATE_RATIO", "0.9", 0.9, 0.8),
    "fairness_max_bias_gap": ("KOMPETENSI_FAIRNESS_MAX_BIAS_GAP", "0.2", 0.2, 0.15),
    "fairness_min_group_size": ("KOMPETENSI_FAIRNESS_MIN_GROUP_SIZE", "40", 40, 30),
    "fairness_n_boot": ("KOMPETENSI_FAIRNESS_N_BOOT", "0", 0, 400),
    "fairness_confidence": ("KOMPETENSI_FAIRNESS_CONFIDENCE", "0.9", 0.9, 0.95),
    "fairness_plan_budget_share": ("KOMPETENSI_FAIRNESS_PLAN_BUDGET_SHARE", "0.5", 0.5, 0.3),
    "fairness_top_k": ("KOMPETENSI_FAIRNESS_TOP_K", "3", 3, 5),
    "poll_seconds": ("KOMPETENSI_POLL_SECONDS", "0", 0.0, 5.0),
    "model_concurrency": ("KOMPETENSI_MODEL_CONCURRENCY", "2", 2, 1),
    "max_body_bytes": ("KOMPETENSI_MAX_BODY_BYTES", "2048", 2048, 1 << 20),
    "model_queue": ("KOMPETENSI_MODEL_QUEUE", "0", 0, 32),
    "plan_concurrency": ("KOMPETENSI_PLAN_CONCURRENCY", "2", 2, 1),
    "plan_queue": ("KOMPETENSI_PLAN_QUEUE", "1", 1, 4),
    "request_timeout_seconds": ("KOMPETENSI_REQUEST_TIMEOUT_SECONDS", "2.5", 2.5, 30.0),
    "limit_concurrency": ("KOMPETENSI_LIMIT_CONCURRENCY", "64", 64, 256),
    "timeout_keep_alive": ("KOMPETENSI_TIMEOUT_KEEP_ALIVE", "10", 10, 5),
    "seed": ("KOMPETENSI_SEED", "7", 7, 20261128),
    "mlflow_tracking_uri": ("MLFLOW_TRACKING_URI", "sqlite:///x.db", "sqlite:///x.db", None),
}


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path) -> pytest.MonkeyPatch:
    """No variable of ours set, and no .env file in the working directory."""
    for variable, *_ in VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.mark.parametrize("field", sorted(VARIABLES))
def test_each_field_reads_its_variable(clean: pytest.MonkeyPatch, field: str) -> None:
    variable, raw, value, default = VARIABLES[field]
    assert getattr(Settings(), field) == default
    clean.setenv(variable, raw)
    assert getattr(Settings(), field) == value


def test_a_dot_env_file_sets_them_too(clean: pytest.MonkeyPatch, tmp_path) -> None:
    (tmp_path / ".env").write_text("KOMPETENSI_POLL_SECONDS=0\nKOMPETENSI_FAIRNESS_TOP_K=2\n")
    settings = Settings()
    assert settings.poll_seconds == 0 and settings.fairness_top_k == 2


def test_the_fairness_fields_as_the_audit_reports_them(clean: pytest.MonkeyPatch) -> None:
    assert Settings(fairness_n_boot=10).fairness == {
        "min_rate_ratio": 0.8, "max_bias_gap": 0.15, "min_group_size": 30, "n_boot": 10, "confidence": 0.95,
        "plan_budget_share": 0.3, "top_k": 5}


@pytest.mark.parametrize(("field", "bad"), [
    ("fairness_min_rate_ratio", 1.5), ("fairness_confidence", 1.0), ("fairness_top_k", 0),
    ("poll_seconds", -1), ("model_concurrency", 0), ("model_concurrency", 65),
])
def test_out_of_range_values_are_refused(clean: pytest.MonkeyPatch, field: str, bad: float) -> None:
    with pytest.raises(ValidationError):
        Settings(**{field: bad})
