"""`rma dlq list|replay`: messages that could not be processed, with their cause."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from rma.cli.errors import CliError

if TYPE_CHECKING:
    from celery import Celery

    from rma.bootstrap import Runtime

app = typer.Typer(help="Dead letters: list them with their cause, replay one after a fix.", no_args_is_help=True)


def _runtime() -> tuple[Celery, Runtime]:
    from rma.worker.celery_app import app as celery_app  # noqa: PLC0415
    from rma.worker.runtime import runtime_for  # noqa: PLC0415

    return celery_app, runtime_for(celery_app)


@app.command("list")
def list_command(
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    include_replayed: Annotated[bool, typer.Option("--all", help="also those already replayed")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List dead letters, newest first, with their cause.

    Message arguments are never printed: an intake message carries personal data.
    """
    _, runtime = _runtime()
    with runtime.ctx.uow() as uow:
        records = uow.stores.dead_letters(limit=limit, include_replayed=include_replayed)
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
    celery_app, runtime = _runtime()
    with runtime.ctx.uow() as uow:
        record = uow.stores.dead_letter(letter_id)
    if record is None:
        raise CliError(f"no dead letter {letter_id}")
    if record.replayed_at is not None:
        raise CliError(f"dead letter {letter_id} was already replayed at {record.replayed_at.isoformat()}")
    letter = record.letter
    if letter.task_name and letter.kwargs is not None:
        celery_app.send_task(letter.task_name, kwargs=letter.kwargs)
    elif letter.raw_body is not None and letter.queue:
        with celery_app.producer_or_acquire() as producer:
            producer.publish(
                letter.raw_body,
                routing_key=letter.queue,
                exchange="",
                content_type=letter.content_type or "application/json",
                content_encoding="utf-8",
            )
    else:
        raise CliError(f"dead letter {letter_id} holds neither a task and its arguments nor a raw body to send")
    with runtime.ctx.uow() as uow:
        uow.stores.mark_replayed(letter_id, at=runtime.ctx.clock.now())
        uow.commit()
    typer.echo(f"replayed dead letter {letter_id} ({letter.task_name or letter.queue})")
