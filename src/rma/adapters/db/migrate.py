"""Schema migrations (Alembic), run programmatically: `rma db upgrade` and the tests call these."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

SCRIPT_LOCATION = "rma.adapters.db:migrations"


def _config(engine: Engine) -> tuple[Config, Engine]:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config, engine


def upgrade(engine: Engine, revision: str = "head") -> None:
    config, _ = _config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    config, _ = _config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 - only needed here

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def autogenerate(engine: Engine, message: str) -> None:
    """Write a new revision from the difference between the models and the database (a developer tool)."""
    config, _ = _config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
