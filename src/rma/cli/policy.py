"""`rma policy ...`: evaluate a request against a policy, or check a policy file, without any server."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from rma.cli.errors import CliError
from rma.cli.inputs import parse_day, read_model
from rma.domain.errors import PolicyError
from rma.domain.policy import OrderHistory, PolicyBook, evaluate
from rma.domain.requests import ReturnRequest
from rma.policies.loader import load_policy_book

app = typer.Typer(help="Evaluate return requests against a return policy; validate policy files.", no_args_is_help=True)

PolicyOption = Annotated[
    Path | None,
    typer.Option("--policy", help="policy file (TOML or JSON); default: RMA_POLICY_FILE or the shipped policy"),
]


def _book(path: Path | None) -> PolicyBook:
    from rma.config import get_settings  # noqa: PLC0415 - settings are read only when a command needs them

    try:
        return load_policy_book(path or get_settings().policy_file)
    except PolicyError as exc:
        raise CliError(str(exc)) from None


@app.command("evaluate")
def evaluate_command(
    request_file: Annotated[Path, typer.Argument(help="the return request, as JSON (the intake schema)")],
    policy: PolicyOption = None,
    today: Annotated[str | None, typer.Option(help="evaluate as of this date (YYYY-MM-DD); default today")] = None,
    history: Annotated[
        Path | None,
        typer.Option(help="JSON of earlier returns of the order: claimed_quantity, refunded_by_line, refunded_total"),
    ] = None,
) -> None:
    """Print the decision as JSON: decision, returnless, reasons, refund, trace."""
    request = read_model(request_file, ReturnRequest, "request")
    order_history = read_model(history, OrderHistory, "history") if history else None
    day = parse_day(today, "--today") or datetime.now(UTC).date()
    decision = evaluate(request, _book(policy), today=day, history=order_history)
    out: dict[str, Any] = decision.model_dump(mode="json")
    typer.echo(json.dumps(out, indent=2, ensure_ascii=False))


@app.command("check")
def check_command(policy: Annotated[Path, typer.Argument(help="policy file to validate")]) -> None:
    """Validate a policy file and list its versions."""
    book = _book(policy)
    for version in book.versions:
        typer.echo(f"{version.version}\teffective from {version.effective_from}\t{version.description}")
