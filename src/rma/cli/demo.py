"""`rma demo`: the embedded run — every stage in one process, no servers — with a progress bar and a summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rma.cli.errors import EXIT_FAILURE

DEFAULT_DB = Path("rma-demo.db")


def _table(summary: dict[str, object], speed: float) -> Table:
    table = Table(title="Returns demo (embedded: SQLite + in-process broker, sandbox providers)")
    table.add_column("status")
    table.add_column("returns", justify="right")
    by_status = summary["by_status"]
    assert isinstance(by_status, dict)  # noqa: S101 - shape of our own summary
    for status, count in by_status.items():
        table.add_row(status, str(count))
    table.add_section()
    table.add_row("total", str(summary["total"]))
    table.add_row("not finished", str(summary["non_terminal"]))
    by_currency = summary["refunds_by_currency"]
    assert isinstance(by_currency, dict)  # noqa: S101
    amounts = ", ".join(figures["formatted"] for figures in by_currency.values()) or "none"
    table.add_row("refunds issued", f"{summary['refunds']} ({amounts})")
    table.add_row("wall time", f"{summary['wall_seconds']} s ({summary['returns_per_second']} returns/s)")
    stages = summary["time_in_status_hours"]
    assert isinstance(stages, dict)  # noqa: S101
    table.add_section()
    table.add_row(f"time in status (app hours; 1 s = {speed / 3600:g} h)", "p50 / p95")
    for status, figures in stages.items():
        table.add_row(f"  {status}", f"{figures['p50']} / {figures['p95']}")
    printed = summary.get("documents") or {}
    assert isinstance(printed, dict)  # noqa: S101
    if not printed:
        return table
    table.add_section()
    table.add_row(f"labels printed (in {printed['dir']})", str(printed["labels"]))
    for key, name in (("example_label", "  a label"), ("example_packing_slip", "  its packing slip")):
        if key in printed:
            table.add_row(name, str(printed[key]))
    return table


def demo_command(
    returns: Annotated[int, typer.Option("--returns", "-n", min=1, max=100_000, help="how many returns")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object instead of the table")] = False,
    database: Annotated[Path, typer.Option("--db", help="SQLite file (recreated)")] = DEFAULT_DB,
    speed: Annotated[float, typer.Option(help="simulated seconds per real second")] = 172_800.0,
    seed: Annotated[int, typer.Option(help="seed of the return mix")] = 7,
    timeout: Annotated[float | None, typer.Option(help="give up after this many seconds")] = None,
) -> None:
    """Process N returns end to end in one process and summarise; exits 1 if any did not finish."""
    from rma.demo.embedded import run_demo  # noqa: PLC0415 - Celery loads only for this command
    from rma.logging import configure_logging  # noqa: PLC0415

    configure_logging("ERROR", "auto", force=True)  # the summary is the output; warnings would drown the bar

    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]returns finished"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=as_json or not console.is_terminal,
    ) as bar:
        task = bar.add_task("returns", total=returns)
        summary = run_demo(
            returns=returns,
            database=database,
            speed=speed,
            seed=seed,
            timeout_seconds=timeout,
            progress=lambda done, _: bar.update(task, completed=done),
        ).as_dict()
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        Console().print(_table(summary, speed))
    if summary["non_terminal"]:
        raise typer.Exit(EXIT_FAILURE)
