"""`rma dlq list|replay`: messages that could not be processed, with their cause."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from rma.cli.errors import CliError

if TYPE_CHECKING:
    from rma.bootstrap import Runtime

app = typer.Typer(help="Dead letters: list them with their cause, replay one after a fix.", no_args_is_help=True)


def _runtime() -> Runtime:
    from rma.bootstrap import build_runtime  # noqa: PLC0415 - SQLAlchemy and Celery load only for these commands
    from rma.config import get_settings  # noqa: PLC0415
    from rma.worker.app import create_app  # noqa: PLC0415

    settings = get_settings()
    return build_runtime(settings, celery_app=create_app(settings))


@app.command("list")
def list_command(
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    include_replayed: Annotated[bool, typer.Option("--all", help="also those already replayed")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List dead letters, newest first, with their cause.

    Message arguments are never printed: an intake message carries personal data.
    """
    from rma.services import dead_letters  # noqa: PLC0415

    records = dead_letters.recent(_runtime().ctx, limit=limit, include_replayed=include_replayed)
    rows = [
        {
            "id": r.id,
            "created_at": r.created_at.isoformat(),
            "queue": r.letter.queue,
            "task": r.letter.task_name,
            "return_id": str(r.letter.return_id) if r.letter.return_id else None,
            "cause": r.letter.cause,
            "replayed_at": r.replayed_at.isoformat() if r.replayed_at else None,
        }
        for r in records
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        typer.echo(f"{row['id']}\t{row['created_at']}\t{row['queue']}\t{row['task']}\t{row['cause']}")
    if not rows:
        typer.echo("no dead letters")


@app.command("replay")
def replay_command(letter_id: Annotated[int, typer.Argument(help="dead letter id (see `rma dlq list`)")]) -> None:
    """Send the message again: a failed task by name with its arguments, or an undecodable body as it was."""
    from rma.services import dead_letters  # noqa: PLC0415

    runtime = _runtime()
    try:
        letter = dead_letters.replay(runtime.ctx, runtime.publisher, letter_id)
    except dead_letters.ReplayError as exc:
        raise CliError(str(exc)) from None
    typer.echo(f"replayed dead letter {letter_id} ({letter.task_name or letter.queue})")
