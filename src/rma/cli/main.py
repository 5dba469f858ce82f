"""The `rma` command: one entry point, a sub-command group per concern."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from rma.cli import audit, bench, chaos, db, demo, dlq, policy, review, services, stack
from rma.cli.errors import EXIT_FAILURE, CliError, fail
from rma.domain.validation import field_errors

app = typer.Typer(
    name="rma",
    help="Returns (RMA) processing: the embedded demo, policy evaluation, the stage workers and API, and their proofs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(policy.app, name="policy")
app.add_typer(db.app, name="db")
app.command("demo")(demo.demo_command)
app.add_typer(dlq.app, name="dlq")
app.add_typer(review.app, name="review")
app.command("worker")(services.worker_command)
app.command("beat")(services.beat_command)
app.command("relay")(services.relay_command)
app.command("api")(services.api_command)
app.command("stack")(stack.stack_command)
app.command("audit")(audit.audit_command)
app.command("bench")(bench.bench_command)
app.command("chaos")(chaos.chaos_command)


def run() -> None:
    """Console-script entry point: every failure becomes a message and an exit code, never a traceback."""
    from rma.config import get_settings  # noqa: PLC0415 - settings errors are reported like any bad input
    from rma.logging import configure_logging  # noqa: PLC0415

    try:
        settings = get_settings()
        configure_logging(settings.log_level, settings.log_format)
        app()  # standalone: typer reports usage errors itself (exit 2) and raises SystemExit when done
    except CliError as exc:
        fail(exc)
    except ValidationError as exc:
        fail(CliError("invalid settings (RMA_* environment variables)", fields=field_errors(exc)))
    except Exception as exc:  # noqa: BLE001 - the last line of defence: report, do not dump a traceback
        fail(CliError(f"unexpected error: {exc.__class__.__name__}: {exc}", code=EXIT_FAILURE))


if __name__ == "__main__":
    run()
