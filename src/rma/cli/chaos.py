"""`rma chaos`: a run under injury (killed workers, flushed Redis, restarted PostgreSQL, crashes at fault points)."""

from __future__ import annotations

import json
import signal
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from rma.cli.bench import CarrierChoice
from rma.cli.errors import EXIT_FAILURE, CliError


def chaos_command(  # noqa: PLR0913, PLR0917 - one parameter per command-line option
    returns: Annotated[int, typer.Option(min=10)] = 300,
    kill_every: Annotated[float, typer.Option(help="seconds between SIGKILLs of a random stage worker")] = 4.0,
    restart_postgres: Annotated[bool, typer.Option(help="restart the run's private PostgreSQL server once")] = True,
    flush_redis: Annotated[bool, typer.Option(help="FLUSHALL the run's Redis once")] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait for every return")] = 600.0,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="run in a fresh schema of this PostgreSQL; default: a private PostgreSQL server started for the run"
        ),
    ] = None,
    workdir: Annotated[Path | None, typer.Option(help="logs go here")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    carrier: Annotated[
        CarrierChoice,
        typer.Option(help="sandbox, or easypost: the fake EasyPost server, answering some calls 429 or 5xx"),
    ] = CarrierChoice.SANDBOX,
) -> None:
    """Run the real stack under injury (killed workers, flushed Redis, ...); exits 1 if anything was lost or done twice.

    It SIGKILLs a random stage worker every --kill-every seconds, flushes Redis once, restarts the run's own
    PostgreSQL server once and crashes workers once at each named fault point; it reports recovery times.
    """
    from rma.bench.chaos import ChaosPlan, run_chaos  # noqa: PLC0415

    # SIGTERM unwinds like Ctrl-C, so the run's `finally` stops every process it started (they run in their own
    # sessions and would otherwise outlive it).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    if database_url is not None and not database_url.startswith("postgresql"):
        raise CliError("rma chaos needs PostgreSQL: --database-url postgresql+psycopg://user@host/db")
    plan = ChaosPlan(
        returns=returns,
        kill_every=kill_every,
        flush_redis=flush_redis,
        restart_postgres=restart_postgres,
        timeout=timeout,
        carrier=carrier.value,
    )
    result = run_chaos(plan, database_url=database_url, workdir=workdir or Path(tempfile.mkdtemp(prefix="rma-chaos-")))
    if as_json:
        typer.echo(json.dumps(result))
    else:
        for key in (
            "submitted",
            "completed",
            "lost",
            "needs_attention",
            "duplicate_labels",
            "duplicate_refunds",
            "over_refunds",
            "kills",
            "fault_points_fired",
            "recovery_seconds",
            "notes",
            "audit_sound",
            "carrier",
        ):
            typer.echo(f"{key}: {result[key]}")
    bad = result["lost"] or result["duplicate_labels"] or result["duplicate_refunds"] or result["over_refunds"]
    if bad or not result["audit_sound"]:
        raise typer.Exit(EXIT_FAILURE)
