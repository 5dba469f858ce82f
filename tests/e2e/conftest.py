"""End-to-end fixtures: real worker processes (the `rma stack` supervisor) on a real Redis and PostgreSQL.

Each test module gets its own redis-server on a free port (fault tests FLUSHALL it; the machine's shared Redis is
never touched) and its own PostgreSQL schema. The application clock runs 2 days per second so parcels travel, labels
expire and inspections fall due within seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, func, select, text
from tests.conftest import POSTGRES_URL
from tests.integration.conftest import postgres_url_with_schema

from rma.adapters.db import create_db_engine
from rma.bench import harness
from rma.bench.harness import free_port
from rma.bootstrap import prepare_database
from rma.client import ReturnsClient
from rma.config import Settings
from rma.supervisor import Supervisor

API_KEY = "e2e-key"
CLOCK_SPEED = 172_800.0  # two simulated days per real second


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.25, what: str = "") -> None:
    if not harness.wait_until(predicate, timeout=timeout, interval=interval):
        raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


@dataclass
class RedisServer:
    url: str
    process: subprocess.Popen[bytes]

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The module's own redis-server (fault tests flush and kill it)."""
    try:
        process, url = harness.start_redis(tmp_path_factory.mktemp("redis"))
    except RuntimeError as exc:
        pytest.fail(f"the end-to-end tests start their own redis-server: {exc}")
    yield RedisServer(url, process)
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def e2e_database() -> Iterator[tuple[str, Engine]]:
    schema = f"rma_e2e_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = postgres_url_with_schema(schema)
    engine = create_db_engine(url)
    prepare_database(Settings(database_url=url), engine)  # the stack's sandbox providers' tables too
    yield url, engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@dataclass
class Stack:
    supervisor: Supervisor
    engine: Engine
    redis: RedisServer
    api_url: str
    flower_url: str
    env: dict[str, str]
    log_dir: Path

    def client(self) -> ReturnsClient:
        return ReturnsClient(self.api_url, API_KEY, timeout=30.0)

    def count(self, table: Any, *where: Any) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(table).where(*where)) or 0)

    def scalar(self, stmt: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.scalar(stmt)


def stack_env(database_url: str, broker_url: str, *, api_port: int, flower_port: int, **extra: str) -> dict[str, str]:
    env = {
        "RMA_DATABASE_URL": database_url,
        "RMA_BROKER_URL": broker_url,
        "RMA_API_KEYS": API_KEY,
        "RMA_API_PORT": str(api_port),
        "RMA_FLOWER_PORT": str(flower_port),
        "RMA_FLOWER_PASSWORD": "e2e-flower",
        "RMA_CLOCK_EPOCH": str(time.time()),
        "RMA_CLOCK_SPEED": str(CLOCK_SPEED),
        "RMA_AUTO_INSPECT": "true",
        "RMA_AUTO_REVIEW": "true",
        "RMA_TRACKING_TICK_SECONDS": "0.5",
        "RMA_INSPECTION_TICK_SECONDS": "0.5",
        "RMA_RECONCILE_SECONDS": "1",
        "RMA_OUTBOX_RELAY_SECONDS": "1",
        "RMA_NOTIFY_TICK_SECONDS": "1",
        "RMA_REDRIVE_AFTER_SECONDS": "4",
        "RMA_POLL_EVERY_HOURS": "12",
        "RMA_LOG_FORMAT": "json",
        "RMA_LOG_LEVEL": "INFO",
    }
    env.update(extra)
    return env


def start_stack(
    tmp_path: Path,
    database: tuple[str, Engine],
    redis_server: RedisServer,
    *,
    flower: bool,
    per_process_env: dict[str, dict[str, str]] | None = None,
    **extra_env: str,
) -> Stack:
    url, engine = database
    api_port, flower_port = free_port(), free_port()
    extra_env.setdefault("RMA_DOCUMENTS_DIR", str(tmp_path / "documents"))
    env = stack_env(url, redis_server.url, api_port=api_port, flower_port=flower_port, **extra_env)
    specs = harness.stack_processes(env, state_dir=tmp_path, flower=flower, per_process_env=per_process_env)
    log_dir = tmp_path / "logs"
    supervisor = Supervisor(specs, log_dir=log_dir)
    supervisor.start()
    stack = Stack(
        supervisor,
        engine,
        redis_server,
        f"http://127.0.0.1:{api_port}",
        f"http://127.0.0.1:{flower_port}",
        env,
        log_dir,
    )
    wait_until(lambda: harness.api_ready(stack.api_url), timeout=60, what="the API to answer /readyz")
    return stack


@pytest.fixture(scope="module")
def keep_alive() -> Callable[[Supervisor], Iterator[None]]:
    """A background thread restarting any stack process that dies, as `rma stack` does."""

    def run(supervisor: Supervisor) -> Iterator[None]:
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(0.5):
                try:
                    supervisor.check()
                except Exception as exc:  # noqa: BLE001 - keep restarting; say why one attempt failed
                    print(f"supervisor check failed: {exc!r}")  # noqa: T201

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        yield
        stop.set()
        thread.join(timeout=5)

    return run


def dump_logs(stack: Stack, names: list[str] | None = None, lines: int = 40) -> str:
    out = []
    for path in sorted(stack.log_dir.glob("*.log")):
        if names and path.stem not in names:
            continue
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        out.append(f"--- {path.name}\n" + "\n".join(tail))
    return "\n".join(out)


def audit(stack: Stack) -> tuple[int, dict[str, Any]]:
    """`rma audit --json` against the stack's database, as an operator runs it: (exit code, report)."""
    done = subprocess.run(
        [sys.executable, "-m", "rma.cli.main", "audit", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **stack.env},
    )
    return done.returncode, json.loads(done.stdout)
