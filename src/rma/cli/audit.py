"""`rma audit`: check the platform's invariants over the database and the providers' records."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from rma.cli.errors import EXIT_FAILURE
from rma.config import get_settings


def audit_command(as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False) -> None:
    """Check the invariants over the database and the providers' records; exits 1 if any is violated.

    Every count is 0 when the system is sound; dead letters are listed, not counted as violations.
    """
    from rma.bootstrap import audit, build_runtime  # noqa: PLC0415 - SQLAlchemy loads only for this command
    from rma.worker.app import create_app  # noqa: PLC0415

    settings = get_settings()
    runtime = build_runtime(settings, celery_app=create_app(settings))
    try:
        report = audit(runtime)
    finally:
        runtime.close()
    if as_json:
        typer.echo(json.dumps(report.as_dict(), default=str))
    else:
        typer.echo(f"returns: {report.returns}  " + "  ".join(f"{s}={n}" for s, n in sorted(report.by_status.items())))
        for name, count in report.violations.items():
            if name in report.unchecked:
                typer.echo(f"--    {name}: not checked (the carrier account's records cannot be read from here)")
                continue
            typer.echo(f"{'FAIL' if count else 'ok  '}  {name}: {count}")
            for example in report.examples.get(name, []):
                typer.echo(f"        {example}")
        typer.echo(
            f"needs_attention: {report.needs_attention}   dead letters (not replayed): {len(report.dead_letters)}"
        )
    if not report.sound:
        raise typer.Exit(EXIT_FAILURE)
