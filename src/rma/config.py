"""Settings, read once from the environment (prefix `RMA_`) or a `.env` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_extra_types.country import CountryAlpha2
from pydantic_settings import BaseSettings, SettingsConfigDict

from rma.domain.errors import InvalidRmaNumberError
from rma.domain.requests import Address
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

    # Providers: the sandboxes (embedded demo, tests) or real ones behind the same interfaces.
    carrier: Literal["sandbox", "easypost"] = "sandbox"
    gateway: Literal["sandbox"] = "sandbox"
    notifier: Literal["sandbox"] = "sandbox"
    sandbox_never_shipped: float = Field(default=0.03, ge=0, le=1)
    sandbox_lost: float = Field(default=0.02, ge=0, le=1)
    sandbox_returned_to_sender: float = Field(default=0.01, ge=0, le=1)
    sandbox_damaged: float = Field(default=0.01, ge=0, le=1)
    # The carrier account (RMA_CARRIER=easypost). The key is read from the environment and never logged.
    easypost_api_key: SecretStr | None = None
    easypost_api_base: str = Field(default="https://api.easypost.com/v2", description="EasyPost's API (tests: a fake)")
    easypost_timeout_seconds: float = Field(default=30, gt=0, le=300)
    easypost_concurrency: int = Field(default=16, ge=1, le=128, description="carrier calls in flight per process")
    easypost_webhook_secret: SecretStr | None = Field(default=None, description="verifies EasyPost's webhook HMAC")
    carrier_rate_limit: float = Field(
        default=0,
        ge=0,
        description="the carrier account's requests per second, kept (10% below) by every process together",
    )
    carrier_rate_limit_url: str = Field(default="", description="Redis holding the shared limit (default: broker's)")
    label_format: Literal["PDF", "ZPL", "PNG"] = "PDF"
    label_carriers: str = Field(default="", description="comma-separated carriers a label may use (empty: any)")
    label_services: str = Field(default="", description="comma-separated services a label may use (empty: any)")
    label_fixed_service: str = Field(default="", description="'CARRIER:SERVICE' to always buy that one")
    parcel_weight_oz: float = Field(default=32, gt=0, le=2400, description="declared weight of a return parcel")
    warehouse_address: Address = Field(
        default=Address(
            name="Returns Centre",
            line1="100 Warehouse Way",
            city="Reno",
            region="NV",
            postal_code="89502",
            country=CountryAlpha2("US"),
        ),
        description="the returns centre every label is addressed to (JSON)",
    )
    warehouse_phone: str = Field(default="", description="the returns centre's phone, which some carriers require")
    documents_dir: Path | None = Field(
        default=None, description="label and packing-slip store (default: beside an SQLite file, else ./rma-documents)"
    )
    packing_slip_paper: Literal["letter", "a4"] = "letter"
    lost_after_days: float = Field(default=10, gt=0, description="a parcel with no scan this long goes to a person")
    webhook_poll_every_hours: float = Field(
        default=48, gt=0, description="poll interval for a parcel whose carrier sent a webhook recently (app time)"
    )
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

    @model_validator(mode="after")
    def _carrier_account(self) -> Settings:
        if self.carrier == "easypost" and (
            self.easypost_api_key is None or not self.easypost_api_key.get_secret_value()
        ):
            raise ValueError("RMA_CARRIER=easypost needs RMA_EASYPOST_API_KEY")
        if self.label_fixed_service and ":" not in self.label_fixed_service:
            raise ValueError("RMA_LABEL_FIXED_SERVICE must read CARRIER:SERVICE, e.g. USPS:GroundAdvantage")
        return self

    def documents_root(self) -> Path:
        """Where labels and slips are kept: the setting, else beside the SQLite database file, else the working
        directory."""
        if self.documents_dir is not None:
            return self.documents_dir
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and ":memory:" not in self.database_url:
            db_file = Path(self.database_url.removeprefix(prefix))
            return db_file.parent / f"{db_file.stem}-documents"
        return Path("rma-documents")

    def api_key_set(self) -> frozenset[str]:
        return frozenset(key.strip() for key in self.api_keys.split(",") if key.strip())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
