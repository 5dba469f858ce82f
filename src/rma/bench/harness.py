"""A disposable real stack for benchmarks and chaos runs: its own redis-server on a free port, its own PostgreSQL
server (or a schema of its own in a PostgreSQL it is given), the `rma stack` process table, a fast application
clock. Nothing shared is touched."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
import redis
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from rma.adapters.clock import AcceleratedClock
from rma.adapters.db import create_db_engine
from rma.adapters.db.audit import finished_returns
from rma.adapters.db.server import server_settings
from rma.bench.postgres import PrivatePostgres, start_private_postgres
from rma.bootstrap import prepare_database
from rma.cli.stack import stack_specs
from rma.config import Settings
from rma.supervisor import ProcessSpec, Supervisor

API_KEY = "bench"
# One application day per 5 s: parcels arrive within a minute, yet the minutes a 10,000-return intake takes stay within
# every return window (decisions are taken as of each request's arrival).
BENCH_CLOCK_SPEED = 17280.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: object, *, timeout: float, interval: float = 0.2) -> bool:
    assert callable(predicate)  # noqa: S101 - internal helper
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


@dataclass
class BenchStack:
    supervisor: Supervisor
    redis_process: subprocess.Popen[bytes] | None
    redis_url: str
    database_url: str
    admin_url: str
    schema: str
    engine: Engine
    api_url: str
    env: dict[str, str]
    workdir: Path
    postgres: PrivatePostgres | None
    """The private server, or None when the run was given a PostgreSQL to make a schema in."""
    postgres_settings: dict[str, str] = field(default_factory=dict)
    stopped: dict[str, int | None] = field(default_factory=dict)

    def today(self) -> date:
        """The application clock's date (what request dates must be relative to)."""
        return (
            AcceleratedClock(epoch=float(self.env["RMA_CLOCK_EPOCH"]), speed=float(self.env["RMA_CLOCK_SPEED"]))
            .now()
            .date()
        )

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)

    def finished(self) -> int:
        """Returns closed with every customer message sent; -1 while PostgreSQL is unreachable (chaos restarts it)."""
        try:
            with self.engine.connect() as conn:
                return finished_returns(conn)
        except OperationalError:
            return -1

    def stop(self) -> None:
        if threading.current_thread() is threading.main_thread():
            # A second SIGTERM (`uv run` forwards the one a process group already got) must not cut the clean-up
            # short and leave workers, redis-server and the schema behind.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if not self.stopped:
            self.stopped = self.supervisor.stop(timeout=90)
        self.engine.dispose()
        if self.redis_process is not None and self.redis_process.poll() is None:
            self.redis_process.terminate()
            self.redis_process.wait(timeout=10)
        if self.postgres is not None:
            self.postgres.remove()
            return
        admin = create_db_engine(self.admin_url)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        admin.dispose()


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A private redis-server on a free port (nothing kept on disk): runs that flush or kill it touch nothing shared."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed; pass --redis-url to use a running Redis you may flush")
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    if not wait_until(lambda: _pings(url), timeout=10):
        process.kill()
        raise RuntimeError("the private redis-server did not start")
    return process, url


def _pings(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url).ping())
    except redis.ConnectionError:
        return False


def stack_processes(
    env: dict[str, str],
    *,
    state_dir: Path,
    flower: bool,
    per_process_env: dict[str, dict[str, str]] | None = None,
) -> list[ProcessSpec]:
    """The `rma stack` process table configured by `env` (RMA_* variables), with extra variables per process."""
    settings = Settings(**{key.removeprefix("RMA_").lower(): value for key, value in env.items()})  # type: ignore[arg-type]
    return [
        ProcessSpec(spec.name, spec.argv, {**env, **spec.env, **(per_process_env or {}).get(spec.name, {})})
        for spec in stack_specs(settings, state_dir=state_dir, flower=flower)
    ]


def start_bench_stack(
    *,
    database_url: str | None,
    workdir: Path,
    redis_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    per_process_env: dict[str, dict[str, str]] | None = None,
) -> BenchStack:
    """The stack on a private PostgreSQL server when `database_url` is None, else in a fresh schema of that one."""
    if database_url is not None and not database_url.startswith("postgresql"):
        raise RuntimeError(f"the benchmark runs on PostgreSQL, not {make_url(database_url).get_backend_name()}")
    workdir.mkdir(parents=True, exist_ok=True)
    postgres: PrivatePostgres | None = None
    if database_url is None:
        postgres = start_private_postgres(free_port())
        database_url = postgres.url
    try:
        return _start(postgres, database_url, workdir, redis_url, extra_env, per_process_env)
    except BaseException:
        if postgres is not None:
            postgres.remove()
        raise


def _start(
    postgres: PrivatePostgres | None,
    database_url: str,
    workdir: Path,
    redis_url: str | None,
    extra_env: dict[str, str] | None,
    per_process_env: dict[str, dict[str, str]] | None,
) -> BenchStack:
    redis_process, url = (None, redis_url) if redis_url else start_redis(workdir)
    schema = f"rma_bench_{uuid.uuid4().hex[:10]}"
    admin = create_db_engine(database_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    scoped = make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"})
    scoped_url = scoped.render_as_string(hide_password=False)
    engine = create_db_engine(scoped_url, pool_size=4)
    prepare_database(Settings(database_url=scoped_url), engine)  # sandbox providers: their tables too
    described = server_settings(engine)
    api_port = free_port()
    env = {
        "RMA_DATABASE_URL": scoped_url,
        "RMA_BROKER_URL": url,
        "RMA_API_KEYS": API_KEY,
        "RMA_API_PORT": str(api_port),
        "RMA_DOCUMENTS_DIR": str(workdir / "documents"),
        "RMA_CLOCK_EPOCH": str(time.time()),
        "RMA_CLOCK_SPEED": repr(BENCH_CLOCK_SPEED),
        "RMA_AUTO_INSPECT": "true",
        "RMA_AUTO_REVIEW": "true",
        "RMA_TRACKING_TICK_SECONDS": "1",
        "RMA_INSPECTION_TICK_SECONDS": "1",
        "RMA_RECONCILE_SECONDS": "2",
        "RMA_OUTBOX_RELAY_SECONDS": "2",
        "RMA_NOTIFY_TICK_SECONDS": "1",
        "RMA_REDRIVE_AFTER_SECONDS": "60",
        "RMA_POLL_EVERY_HOURS": "12",
        "RMA_TRACKING_BATCH_SIZE": "200",
        "RMA_LOG_FORMAT": "json",
        "RMA_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    supervisor = Supervisor(
        stack_processes(env, state_dir=workdir, flower=False, per_process_env=per_process_env), log_dir=workdir / "logs"
    )
    supervisor.start()
    stack = BenchStack(
        supervisor=supervisor,
        redis_process=redis_process,
        redis_url=url,
        database_url=scoped_url,
        admin_url=database_url,
        schema=schema,
        engine=engine,
        api_url=f"http://127.0.0.1:{api_port}",
        env=env,
        workdir=workdir,
        postgres=postgres,
        postgres_settings=described,
    )
    try:
        ready = wait_until(lambda: api_ready(stack.api_url), timeout=90)
    except BaseException:
        stack.stop()  # interrupted while starting (Ctrl-C, SIGTERM): leave nothing behind
        raise
    if not ready:
        stack.stop()
        raise RuntimeError(f"the stack's API did not become ready; see {workdir / 'logs'}")
    return stack


def api_ready(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
