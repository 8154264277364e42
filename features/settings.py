"""Configuration from the environment (INTERFACES.md "Configuration"), read lazily; nothing at import.

One `Settings` for the whole program: read once at start-up (`get_settings()`, or made by whoever starts
the program) and handed down; the store, training, the fairness audit and the server take their values
from it. Every field is the environment variable `KOMPETENSI_<FIELD>` (a `.env` file may set them too),
except `mlflow_tracking_uri` (`MLFLOW_TRACKING_URI`). The fairness fields are `KOMPETENSI_FAIRNESS_*`
(their defaults are justified in `training.fairness`); `poll_seconds`, `model_concurrency` and the
backpressure fields (queues, timeout, uvicorn's limits) are the server's (`serving.main`, `serving.compute`),
and so is `max_body_bytes` (`serving.limits`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POLL_SECONDS = 5.0
DEFAULT_MODEL_CONCURRENCY = 1  # one model call at a time per server worker (serving.compute says why)
DEFAULT_MODEL_QUEUE = 32  # ~32 x 25 ms: a full line still answers within a second (serving.compute)
DEFAULT_PLAN_CONCURRENCY = 1
DEFAULT_PLAN_QUEUE = 4
DEFAULT_REQUEST_TIMEOUT_SECONDS = 30.0
DEFAULT_LIMIT_CONCURRENCY = 256  # above every line of the app, so the app's 503 (with Retry-After) comes first
DEFAULT_TIMEOUT_KEEP_ALIVE = 5
# The largest legitimate bodies, as clients send them (json.dumps; indent=2 in brackets): a 1,000-NIP batch
# 22 KB (26 KB); a plan listing 10,000 NIPs 222 KB (263 KB); an inline prediction with every list at its
# max_length 351 KB (462 KB); a plan with every list at its max_length 687 KB (781 KB). 1 MiB takes them all.
DEFAULT_MAX_BODY_BYTES = 1 << 20
FAIRNESS_PREFIX = "fairness_"


class Settings(BaseSettings):
    """Every variable has a working default for `make run`; a `.env` file may set them too."""

    model_config = SettingsConfigDict(env_prefix="KOMPETENSI_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=PROJECT_ROOT / "var", description="generated exports, reports, SQLite files")
    db_url: str | None = Field(default=None, description="SQLAlchemy URL of the store")
    models_dir: Path = Field(default=PROJECT_ROOT / "models", description="promoted bundles the server loads")
    api_keys_file: Path | None = Field(default=None, description="hashed API keys with roles")
    mlflow_tracking_uri: str | None = Field(
        default=None, validation_alias="MLFLOW_TRACKING_URI", description="MLflow tracking and registry"
    )
    seed: int = Field(default=20261128, description="seed for every random choice in training")
    lang: str = Field(default="id", description="language of CLI messages and sentences: id or en")
    jpm_bands: tuple[float, float] = Field(
        default=(68.0, 80.0), description="JPM band edges in %: < first kurang, < second masih memenuhi"
    )

    # The merit-system fairness audit and its promotion checks (training.fairness).
    fairness_min_rate_ratio: float = Field(default=0.8, ge=0, le=1, description="four-fifths rule on rates")
    fairness_max_bias_gap: float = Field(default=0.15, ge=0,
                                         description="max spread of mean signed error, levels")
    fairness_min_group_size: int = Field(default=30, ge=1, description="employees a group needs to be compared")
    fairness_n_boot: int = Field(default=400, ge=0, description="bootstrap replicates (0: no intervals)")
    fairness_confidence: float = Field(default=0.95, gt=0, lt=1, description="level of the bootstrap intervals")
    fairness_plan_budget_share: float = Field(default=0.3, gt=0,
                                              description="audit plan budget, share of top-1 cost")
    fairness_top_k: int = Field(default=5, ge=1, description="recommendations per employee in the audit")

    # The server (serving.main).
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024, le=1 << 30,
                                description="largest request body, counted as it streams, before any "
                                            "parsing or authentication (serving.limits); more is answered 413")
    poll_seconds: float = Field(default=DEFAULT_POLL_SECONDS, ge=0,
                                description="how often to look for a new champion or snapshot; 0 = never")
    model_concurrency: int = Field(default=DEFAULT_MODEL_CONCURRENCY, ge=1, le=64,
                                   description="per-employee model calls running at once in one worker "
                                               "(serving.compute); more requests wait in line")
    # Backpressure (serving.compute, serving.main.serve): every line is bounded, a full one answers 503.
    model_queue: int = Field(default=DEFAULT_MODEL_QUEUE, ge=0, le=10_000,
                             description="requests that may wait for a model call in one worker; more are "
                                         "refused at once with 503 and Retry-After")
    plan_concurrency: int = Field(default=DEFAULT_PLAN_CONCURRENCY, ge=1, le=16,
                                  description="plans (POST /v1/plans) solved at once in one worker")
    plan_queue: int = Field(default=DEFAULT_PLAN_QUEUE, ge=0, le=1_000,
                            description="plans that may wait for a solver in one worker; more get 503")
    request_timeout_seconds: float = Field(default=DEFAULT_REQUEST_TIMEOUT_SECONDS, gt=0, le=3600,
                                           description="how long a request may wait in line for a model "
                                                       "call or a plan solver before it is answered 503")
    limit_concurrency: int = Field(default=DEFAULT_LIMIT_CONCURRENCY, ge=1,
                                   description="connections and tasks uvicorn serves at once per worker; "
                                               "beyond it uvicorn answers 503 itself")
    timeout_keep_alive: int = Field(default=DEFAULT_TIMEOUT_KEEP_ALIVE, ge=1, le=600,
                                    description="seconds uvicorn keeps an idle keep-alive connection open")

    # The audit trail (serving.audit): how long a write is retried while the store is busy or down, and how
    # many records may wait meanwhile (beyond that they are dropped and counted in kompetensi_audit_dropped).
    audit_retry_seconds: float = Field(default=300.0, ge=0, le=86_400,
                                       description="how long the audit writer retries a batch while the "
                                                   "store is locked or unreachable")
    audit_queue_size: int = Field(default=10_000, ge=1, le=1_000_000,
                                  description="audit records waiting for the writer before new ones are "
                                              "dropped")

    @property
    def store_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'kompetensi.db'}"

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.data_dir / 'mlflow.db'}"

    @property
    def keys_file(self) -> Path:
        return self.api_keys_file or self.data_dir / "api_keys.json"

    @property
    def fairness(self) -> dict[str, Any]:
        """The fairness fields without their prefix (min_rate_ratio, max_bias_gap, …), as the audit reports
        them."""
        return {name.removeprefix(FAIRNESS_PREFIX): getattr(self, name)
                for name in type(self).model_fields if name.startswith(FAIRNESS_PREFIX)}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
