"""Settings, read once from the environment (prefix `RMA_`) or a `.env` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rma.domain.errors import InvalidRmaNumberError
from rma.domain.rma_numbers import validate_prefix


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RMA_", env_file=".env", extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite:///rma.db",
        description="SQLAlchemy URL: sqlite:///path.db (embedded) or postgresql+psycopg://user@host/db",
    )
    broker_url: str = Field(default="memory://", description="Celery broker: memory:// (embedded) or redis://...")
    policy_file: Path | None = Field(default=None, description="return policy TOML/JSON; the shipped default if unset")
    rma_prefix: str = Field(default="RMA", description="seller's RMA number prefix, 2-6 letters/digits")
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    db_pool_size: int = Field(default=5, ge=1, le=100)

    @field_validator("rma_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        try:
            return validate_prefix(value)
        except InvalidRmaNumberError as exc:
            raise ValueError(str(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
