"""`rma db ...`: schema migrations against RMA_DATABASE_URL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from rma.cli.errors import EXIT_FAILURE, CliError
from rma.config import get_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(
    help="Migrate the database schema (RMA_DATABASE_URL) up or down; print its revision.", no_args_is_help=True
)


@contextmanager
def _engine() -> Iterator[Engine]:
    # SQLAlchemy and Alembic are imported only by the commands that need them: `rma policy` starts faster.
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

    from rma.bootstrap import open_engine  # noqa: PLC0415

    engine = open_engine(get_settings())
    try:
        yield engine
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc)
        raise CliError(f"database error: {exc.__class__.__name__}: {detail.strip()}", code=EXIT_FAILURE) from None
    finally:
        engine.dispose()


def _migrate() -> tuple[Callable[..., None], Callable[..., None], Callable[[Engine], str | None]]:
    from rma import bootstrap  # noqa: PLC0415

    settings = get_settings()

    def upgrade(engine: Engine, revision: str) -> None:
        # The sandbox providers' own tables too, where the settings choose a sandbox provider.
        bootstrap.prepare_database(settings, engine, revision)

    return upgrade, bootstrap.downgrade_database, bootstrap.database_revision


@app.command("upgrade")
def upgrade_command(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Migrate the database up to REVISION (default: the latest)."""
    upgrade, _, current = _migrate()
    with _engine() as engine:
        upgrade(engine, revision)
        typer.echo(f"database at revision {current(engine)}")


@app.command("downgrade")
def downgrade_command(revision: Annotated[str, typer.Argument()]) -> None:
    """Migrate the database down to REVISION (`base` removes every table)."""
    _, downgrade, current = _migrate()
    with _engine() as engine:
        downgrade(engine, revision)
        typer.echo(f"database at revision {current(engine)}")


@app.command("current")
def current_command() -> None:
    """Print the database's schema revision."""
    _, _, current = _migrate()
    with _engine() as engine:
        typer.echo(current(engine) or "(empty)")
