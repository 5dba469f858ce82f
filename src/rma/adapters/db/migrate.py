"""Schema migrations (Alembic), run programmatically: `rma db upgrade` and the tests call these."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

SCRIPT_LOCATION = "rma.adapters.db:migrations"


def _run(engine: Engine, alembic_command: Callable[..., object], *args: object, **kwargs: object) -> None:
    """Run an Alembic command in one transaction on `engine` (env.py picks the connection up)."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        alembic_command(config, *args, **kwargs)


def upgrade(engine: Engine, revision: str = "head") -> None:
    _run(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    _run(engine, command.downgrade, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 - only needed here

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def autogenerate(engine: Engine, message: str) -> None:
    """Write a new revision from the difference between the models and the database (a developer tool)."""
    _run(engine, command.revision, message=message, autogenerate=True)
