"""`rma worker|beat|relay|api`: the long-running processes, one command each (what `rma stack` starts)."""

from __future__ import annotations

import signal
import socket
import threading
import time
from typing import Annotated

import typer

from rma.cli.errors import CliError
from rma.config import get_settings
from rma.worker.launch import STAGES


def worker_command(stage: Annotated[str, typer.Argument(help=f"one of: {', '.join(STAGES)}")]) -> None:
    """Run the Celery worker of one stage, consuming only that stage's queue."""
    if stage not in STAGES:
        raise CliError(f"unknown stage {stage!r}: choose one of {', '.join(STAGES)}")
    from rma.worker.launch import run_worker  # noqa: PLC0415 - Celery loads only for this command

    run_worker(stage)


def beat_command(
    schedule: Annotated[str, typer.Option(help="beat's schedule file")] = "celerybeat-schedule",
) -> None:
    """Run Celery beat (exactly one per deployment)."""
    from rma.worker.launch import run_beat  # noqa: PLC0415

    run_beat(schedule)


def relay_command(
    interval: Annotated[float, typer.Option(help="seconds between sweeps")] = 0.5,
    grace: Annotated[float, typer.Option(help="leave rows younger than this to their own after-commit publish")] = 2.0,
) -> None:
    """Publish outbox rows left behind (a crash between commit and publish). Several may run at once."""
    from rma.bootstrap import build_runtime  # noqa: PLC0415
    from rma.services.relay import publish_pending  # noqa: PLC0415
    from rma.worker.app import create_app  # noqa: PLC0415

    settings = get_settings()
    runtime = build_runtime(settings, celery_app=create_app(settings))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.is_set():
        try:
            publish_pending(runtime.ctx.uow, runtime.publisher, older_than_seconds=grace)
        except Exception as exc:  # noqa: BLE001 - a relay outlives broker and database hiccups
            typer.echo(f"relay: {exc.__class__.__name__}: {exc}", err=True)
            time.sleep(min(5.0, interval * 10))
        stop.wait(interval)


def api_command(
    host: Annotated[str | None, typer.Option(help="default RMA_API_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default RMA_API_PORT")] = None,
) -> None:
    """Serve the HTTP intake and status API (uvicorn). Several may serve one port: the kernel spreads connections."""
    import uvicorn  # noqa: PLC0415

    from rma.api import create_api  # noqa: PLC0415
    from rma.bootstrap import build_runtime  # noqa: PLC0415
    from rma.worker.app import create_app  # noqa: PLC0415

    settings = get_settings()
    if not settings.api_key_set():
        raise CliError("set RMA_API_KEYS (comma-separated) before serving the API")
    api = create_api(build_runtime(settings, celery_app=create_app(settings)), api_keys=settings.api_key_set())
    sock = reuse_port_socket(host or settings.api_host, port or settings.api_port)
    server = uvicorn.Server(uvicorn.Config(api, log_config=None))
    server.run(sockets=[sock])


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening socket that other processes may bind too (SO_REUSEPORT): each API process is independent, so the
    supervisor restarts one without dropping the port, unlike a parent process forking workers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    return sock
