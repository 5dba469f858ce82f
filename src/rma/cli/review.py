"""`rma review list|decide`: the manual review queue, for support staff."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from rma.cli.errors import CliError

if TYPE_CHECKING:
    from rma.services.context import StageContext

app = typer.Typer(
    help="The manual review queue: list the returns waiting for a person; approve or reject one.", no_args_is_help=True
)


def _ctx() -> StageContext:
    from rma.bootstrap import build_runtime  # noqa: PLC0415 - SQLAlchemy and Celery load only for these commands
    from rma.config import get_settings  # noqa: PLC0415
    from rma.worker.app import create_app  # noqa: PLC0415

    settings = get_settings()
    return build_runtime(settings, celery_app=create_app(settings)).ctx


@app.command("list")
def list_command(
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """List the returns waiting for a person's decision, oldest first, with the policy's reasons."""
    from rma.services.queries import pending_reviews  # noqa: PLC0415

    ctx = _ctx()
    with ctx.uow() as uow:
        pending = pending_reviews(uow, limit=limit)
    rows = [
        {
            "rma_number": ret.rma_number,
            "return_id": str(ret.id),
            "order_id": ret.request.order_id,
            "value": sum(line.unit_price * line.quantity_to_return for line in ret.request.lines),
            "currency": ret.request.currency,
            "reasons": ret.decision.reasons if ret.decision else [],
            "since": ret.updated_at.isoformat(),
        }
        for ret in pending
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for ret, row in zip(pending, rows, strict=True):
        reasons = " ".join(ret.decision.reasons) if ret.decision else ""
        typer.echo(f"{row['rma_number']}\t{row['order_id']}\t{row['value']} {row['currency']}\t{reasons}")
    if not rows:
        typer.echo("no returns waiting for review")


@app.command("decide")
def decide_command(
    ref: Annotated[str, typer.Argument(help="RMA number or return id")],
    approve: Annotated[bool, typer.Option("--approve/--reject", help="approve or reject the return")],
    note: Annotated[str, typer.Option(help="why (kept on the timeline)")] = "",
    reviewer: Annotated[str, typer.Option(help="who decides")] = "operator",
) -> None:
    """Approve or reject a return waiting for review; exits 2 if there is none by REF or it is not waiting."""
    from rma.services.errors import PermanentStageError, ReturnNotFoundError  # noqa: PLC0415
    from rma.services.issuance import decide_review  # noqa: PLC0415
    from rma.services.queries import InvalidReferenceError, find_return  # noqa: PLC0415

    ctx = _ctx()
    with ctx.uow() as uow:
        try:
            ret = find_return(uow, ref)
        except InvalidReferenceError as exc:
            raise CliError(exc.reason) from None
        except ReturnNotFoundError:
            raise CliError(f"no return {ref}") from None
    try:
        status = decide_review(ctx, ret.id, approve=approve, note=note, reviewer=reviewer)
    except PermanentStageError as exc:
        raise CliError(str(exc)) from None
    typer.echo(f"{ret.rma_number}: {status}")
