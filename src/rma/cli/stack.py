"""`rma stack`: the real thing on one machine without Docker.

The HTTP API, one OS process per stage worker, beat, the outbox relay and Flower (basic auth), against the Redis and
PostgreSQL given by RMA_BROKER_URL and RMA_DATABASE_URL. Ctrl-C or SIGTERM stops everything with a warm shutdown:
running tasks finish, unacknowledged messages go back to the broker, nothing is lost.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Annotated

import typer

from rma.cli.errors import CliError
from rma.config import Settings, get_settings
from rma.supervisor import ProcessSpec, Supervisor, rma_argv
from rma.worker.launch import STAGES


def stack_specs(settings: Settings, *, state_dir: Path, flower: bool = True) -> list[ProcessSpec]:
    # Several API processes on one port: an asyncio server uses one core, and intake must not wait on one.
    apis = range(1, settings.api_processes + 1)
    specs = [ProcessSpec("api" if n == 1 else f"api-{n}", rma_argv("api")) for n in apis]
    specs += [ProcessSpec(f"worker-{stage}", rma_argv("worker", stage)) for stage in STAGES]
    specs.append(ProcessSpec("beat", rma_argv("beat", "--schedule", str(state_dir / "celerybeat-schedule"))))
    specs.append(ProcessSpec("relay", rma_argv("relay")))
    if flower:
        specs.append(
            ProcessSpec(
                "flower",
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "--app",
                    "rma.worker.celery_app",
                    "flower",
                    f"--port={settings.flower_port}",
                    "--address=127.0.0.1",
                ],
                # Flower reads its credentials from the environment, which `ps` does not show.
                env={"FLOWER_BASIC_AUTH": f"{settings.flower_user}:{settings.flower_password}"},
            )
        )
    return specs


def stack_command(
    state_dir: Annotated[Path, typer.Option(help="logs and beat's schedule file go here")] = Path(".rma-stack"),
    flower: Annotated[bool, typer.Option(help="run Flower (basic auth) on RMA_FLOWER_PORT")] = True,
) -> None:
    """Migrate, then run and supervise the API, a worker per stage, beat, relay and Flower; Ctrl-C stops them.

    Needs RMA_DATABASE_URL (PostgreSQL), RMA_BROKER_URL (Redis) and RMA_API_KEYS; exits 2 without them.
    A process that dies is restarted; Ctrl-C or SIGTERM is a warm shutdown (running tasks finish).
    """
    settings = get_settings()
    if not settings.database_url.startswith("postgresql") or not settings.broker_url.startswith(("redis", "amqp")):
        raise CliError("rma stack runs against PostgreSQL and Redis/RabbitMQ: set RMA_DATABASE_URL and RMA_BROKER_URL")
    if not settings.api_key_set():
        raise CliError("set RMA_API_KEYS (comma-separated) so that the API can authenticate upstream systems")
    if flower and not settings.flower_password:
        password = secrets.token_urlsafe(12)
        settings = settings.model_copy(update={"flower_password": password})
        typer.echo(f"Flower: user {settings.flower_user}, generated password {password} (set RMA_FLOWER_PASSWORD)")
    from rma.bootstrap import database_warnings, open_engine, prepare_database  # noqa: PLC0415

    engine = open_engine(settings)
    prepare_database(settings, engine)
    for warning in database_warnings(engine):
        typer.echo(f"warning: {warning}", err=True)
    engine.dispose()
    supervisor = Supervisor(stack_specs(settings, state_dir=state_dir, flower=flower), log_dir=state_dir / "logs")
    supervisor.start()
    typer.echo(f"API on http://{settings.api_host}:{settings.api_port}  (docs at /docs)")
    if flower:
        typer.echo(f"Flower on http://127.0.0.1:{settings.flower_port}")
    typer.echo(f"{len(supervisor.names())} processes; logs in {state_dir / 'logs'}; Ctrl-C to stop")
    supervisor.run_until_signalled()
    typer.echo("stopping (warm shutdown)...")
    codes = supervisor.stop()
    typer.echo("stopped: " + ", ".join(f"{name}={code}" for name, code in codes.items()))
