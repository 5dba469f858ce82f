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
    process_name: str = Field(
        default="rma",
        max_length=48,
        description="this process's name in the stack (set by `rma stack`); PostgreSQL shows it as application_name",
    )
    worker_nice: int = Field(
        default=5,
        ge=0,
        le=19,
        description="CPU niceness added by stage workers: on a shared host, a saturated pipeline yields to intake",
    )

    # Providers: only the sandbox ones exist so far; the real adapters plug in behind the same interfaces.
    carrier: Literal["sandbox"] = "sandbox"
    gateway: Literal["sandbox"] = "sandbox"
    notifier: Literal["sandbox"] = "sandbox"
    sandbox_never_shipped: float = Field(default=0.03, ge=0, le=1)
    sandbox_lost: float = Field(default=0.02, ge=0, le=1)
    sandbox_returned_to_sender: float = Field(default=0.01, ge=0, le=1)
    sandbox_damaged: float = Field(default=0.01, ge=0, le=1)
    auto_inspect: bool = Field(default=False, description="sandbox auto-inspector grades delivered returns")
    auto_review: bool = Field(default=False, description="sandbox auto-reviewer decides overdue manual reviews")

    # The application clock: real time unless a speed-up is given (demo, tests). All processes of one deployment
    # must share RMA_CLOCK_EPOCH (a Unix time) so they agree on the simulated time.
    clock_speed: float = Field(default=1.0, gt=0, le=10_000_000)
    clock_epoch: float | None = None

    # HTTP intake and monitoring.
    api_keys: str = Field(default="", description="comma-separated API keys accepted in X-API-Key")
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_processes: int = Field(
        default=2,
        ge=1,
        le=64,
        description="API server processes `rma stack` runs on the one port (SO_REUSEPORT spreads connections)",
    )
    flower_port: int = Field(default=5555, ge=1, le=65535)
    flower_user: str = "ops"
    flower_password: str = ""

    # Fault injection for chaos tests: "labels.after_carrier=sleep:5,refunds.after_gateway=exit". Empty in production.
    faults: str = ""
    fault_markers: Path | None = Field(default=None, description="directory making *-once faults once per deployment")

    # Deadlines and beat cadence.
    redrive_after_seconds: float = Field(default=60.0, gt=0, description="wall-clock grace before a re-drive")
    max_redrives: int = Field(default=5, ge=1)
    label_valid_days: float = Field(default=14, gt=0)
    review_sla_hours: float = Field(default=48, gt=0)
    poll_every_hours: float = Field(default=6, gt=0, description="carrier tracking poll interval (app time)")
    poll_max_gap_hours: float = Field(
        default=24,
        gt=0,
        description="longest wait for a travelling parcel's delivery estimate before polling it again (app time)",
    )
    tracking_batch_size: int = Field(default=50, ge=1, le=1000)
    tracking_tick_seconds: float = Field(default=60.0, gt=0)
    inspection_tick_seconds: float = Field(default=60.0, gt=0)
    reconcile_seconds: float = Field(default=30.0, gt=0)
    outbox_relay_seconds: float = Field(default=5.0, gt=0)
    notify_tick_seconds: float = Field(default=2.0, gt=0, description="how often unsent customer messages go out")
    notify_batch_size: int = Field(default=100, ge=1, le=1000)

    @field_validator("rma_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        try:
            return validate_prefix(value)
        except InvalidRmaNumberError as exc:
            raise ValueError(str(exc)) from None

    def api_key_set(self) -> frozenset[str]:
        return frozenset(key.strip() for key in self.api_keys.split(",") if key.strip())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
