"""`rma bench`: the real stack (its own Redis and PostgreSQL, one process per stage) driven hard."""

from __future__ import annotations

import json
import signal
import sys
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rma.cli.errors import EXIT_FAILURE, CliError


class CarrierChoice(StrEnum):
    SANDBOX = "sandbox"
    EASYPOST = "easypost"


def _rate(figures: dict[str, Any], unit: str) -> str:
    scale = 1000 if unit == "ms" else 1
    latency = figures["latency"]
    p50, p99 = latency["p50"] * scale, latency["p99"] * scale
    return f"{figures['per_second']:.0f}/s  p50 {p50:.3g} {unit}  p99 {p99:.3g} {unit}"


def _sustained(report: dict[str, Any]) -> str:
    figures = report.get("sustained") or {}
    if figures.get("per_second") is None:
        return "no saturated window (nothing queued)"
    start, end = figures["window_seconds"]
    return f"{figures['per_second']}/s ({figures['cores_busy_in_window']} cores busy, {start}-{end} s)"


def _table(report: dict[str, Any]) -> Table:
    table = Table(title=f"rma bench — {report['date']} — {report['machine']['cpus']} CPUs")
    table.add_column("measure")
    table.add_column("value", justify="right")
    idle, e2e = report["intake_idle"], report["end_to_end"]
    postgres = report["postgres"]
    version = postgres.get("server_version", "?").split(" ")[0]
    rows = [
        ("PostgreSQL", f"{postgres['server']} server {version}, autovacuum {postgres.get('autovacuum', '?')}"),
        ("bare chain of no-op hops (Celery's ceiling)", f"{report['bare_chain_per_second']} chains/s"),
        ("raw Celery publish (one process)", f"{report['raw_publish_per_second']} msgs/s"),
        ("intake, single endpoint (stage workers paused)", _rate(idle["single_workers_paused"], "ms")),
        ("intake, single endpoint (idle, workers consuming)", _rate(idle["single"], "ms")),
        ("intake, Python client (idle)", _rate(idle["client"], "ms")),
        ("single intake (workers paused) / raw publish", f"{idle['single_vs_raw_publish']}"),
        ("intake, batch endpoint, workers paused (per batch)", _rate(report["intake_batch_workers_paused"], "s")),
        ("intake, batch endpoint, workers consuming (per batch)", _rate(report["intake_batch"], "s")),
        ("intake, single endpoint under backlog", _rate(report["intake_under_load"], "ms")),
        ("intake p99 under backlog / idle", f"{report['no_blocking_p99_ratio']}"),
    ]
    drained = "ratio_to_bare_chain" in report
    if drained:
        rows += [
            (
                "end to end, whole run",
                f"{e2e['returns']} returns in {e2e['seconds']} s = {e2e['completed_per_second']}/s",
            ),
            ("ratio_to_bare_chain (whole run)", f"{report['ratio_to_bare_chain']}"),
            ("sustained (pipeline saturated)", _sustained(report)),
            ("sustained_ratio_to_bare_chain", f"{report.get('sustained_ratio_to_bare_chain')}"),
            ("peak backlog", f"{report['queues']['peak_backlog']} messages at {report['queues']['peak_at_seconds']} s"),
            ("drained after peak", f"{report['queues']['drained_seconds_after_peak']} s"),
            ("audit", "sound" if report["audit"]["sound"] else f"VIOLATIONS {report['audit']['violations']}"),
        ]
    else:
        backlog = report["backlog_at_probe"]
        queued = sum(backlog["queued_messages"].values())
        rows.append(("backlog at the probe", f"{backlog['returns_not_closed']} returns open, {queued} messages queued"))
    for name, value in rows:
        table.add_row(name, value)
    if drained:
        table.add_section()
        for status, figures in e2e["stage_seconds"].items():
            table.add_row(
                f"  time in {status} (s)",
                f"p50 {figures['p50']:.2f}  p95 {figures['p95']:.2f}  p99 {figures['p99']:.2f}",
            )
        table.add_section()
        cpu = report["cpu_end_to_end"]
        table.add_row("CPU, end to end", f"{cpu['ms_per_return']} ms per return, {cpu['cores_busy']} cores busy")
        for name, seconds in cpu["seconds"].items():
            table.add_row(f"  CPU {name} (s)", str(seconds))
    for name, rss in report["rss_mib"].items():
        table.add_row(f"  RSS {name} (MiB)", f"{rss['start']} -> {rss['end']}")
    for name, growth in report.get("rss_over_run", {}).items():
        table.add_row(
            f"  RSS {name}, first 10% -> last 10% of the run (MiB)",
            f"{growth['first_10pct_mib']} -> {growth['last_10pct_max_mib']} ({growth['growth_pct']:+}%)",
        )
    return table


def bench_command(  # noqa: PLR0913, PLR0917 - one parameter per command-line option
    returns: Annotated[int, typer.Option(min=10, help="returns driven end to end")] = 10_000,
    single: Annotated[int, typer.Option(min=10, help="requests for the single-endpoint intake figure")] = 1_000,
    chains: Annotated[int, typer.Option(min=10, help="bare chains for the ceiling")] = 2_000,
    drain: Annotated[
        bool, typer.Option("--drain/--no-drain", help="wait for every return to close, or stop after the probe")
    ] = True,
    probe_after: Annotated[float, typer.Option(min=0, help="seconds of backlog before intake is probed")] = 0.0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="run in a fresh schema of this PostgreSQL; default: a private PostgreSQL server started for the run"
        ),
    ] = None,
    redis_url: Annotated[str | None, typer.Option(help="a Redis it may flush; default: start its own")] = None,
    workdir: Annotated[Path | None, typer.Option(help="logs go here")] = None,
    carrier: Annotated[
        CarrierChoice,
        typer.Option(help="sandbox, or easypost: the fake EasyPost server with a real carrier's latency"),
    ] = CarrierChoice.SANDBOX,
) -> None:
    """Drive a disposable real stack hard and measure it; exits 1 if the run did not finish or the audit fails."""
    from rma.bench.run import BenchPlan, run_bench  # noqa: PLC0415
    from rma.bootstrap import server_warnings  # noqa: PLC0415

    # SIGTERM unwinds like Ctrl-C, so the run's `finally` stops every process it started (they run in their own
    # sessions and would otherwise outlive it).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    if database_url is not None and not database_url.startswith("postgresql"):
        raise CliError("rma bench needs PostgreSQL: --database-url postgresql+psycopg://user@host/db")
    plan = BenchPlan(
        returns=returns,
        single=single,
        chains=chains,
        client=min(300, single),
        drain=drain,
        probe_after=probe_after,
        timeout=max(1_800.0, returns * 0.2),  # a 100,000-return run takes about an hour on this machine
        carrier=carrier.value,
    )
    directory = workdir or Path(tempfile.mkdtemp(prefix="rma-bench-"))
    report = run_bench(plan, database_url=database_url, workdir=directory, redis_url=redis_url)
    for warning in server_warnings(report["postgres"]):
        typer.echo(f"warning: {warning}; these figures describe that server, not a production one", err=True)
    if as_json:
        typer.echo(json.dumps(report))
    else:
        Console().print(_table(report))
    if drain and (not report["end_to_end"]["finished"] or not report["audit"]["sound"]):
        raise typer.Exit(EXIT_FAILURE)
