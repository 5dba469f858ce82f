"""`rma db ...`: schema migrations against RMA_DATABASE_URL."""

from __future__ import annotations

from typing import Annotated

import typer

from rma.adapters.db import create_db_engine, migrate
from rma.config import get_settings

app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_command(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Migrate the database up to REVISION (default: the latest)."""
    engine = create_db_engine(get_settings().database_url)
    try:
        migrate.upgrade(engine, revision)
        typer.echo(f"database at revision {migrate.current_revision(engine)}")
    finally:
        engine.dispose()


@app.command("downgrade")
def downgrade_command(revision: Annotated[str, typer.Argument()]) -> None:
    """Migrate the database down to REVISION (`base` removes every table)."""
    engine = create_db_engine(get_settings().database_url)
    try:
        migrate.downgrade(engine, revision)
        typer.echo(f"database at revision {migrate.current_revision(engine)}")
    finally:
        engine.dispose()


@app.command("current")
def current_command() -> None:
    """Print the database's schema revision."""
    engine = create_db_engine(get_settings().database_url)
    try:
        typer.echo(migrate.current_revision(engine) or "(empty)")
    finally:
        engine.dispose()
