"""Configuration from the environment (INTERFACES.md "Configuration"), read lazily; nothing at import."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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

    @property
    def store_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'kompetensi.db'}"

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.data_dir / 'mlflow.db'}"

    @property
    def keys_file(self) -> Path:
        return self.api_keys_file or self.data_dir / "api_keys.json"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
