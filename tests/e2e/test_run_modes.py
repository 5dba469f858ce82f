"""The two run modes as a person starts them: `rma demo` (embedded) and `rma stack` (real processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from tests.e2e.conftest import API_KEY, RedisServer, free_port, wait_until

from rma.bench.harness import api_ready


def test_embedded_demo_finishes_every_return(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rma.cli.main", "demo", "--returns", "40", "--json", "--db", str(tmp_path / "d.db")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["total"] == 40
    assert summary["non_terminal"] == 0
    assert summary["by_status"] == {"closed": 40}
    assert summary["refunds"] > 0
    assert "Traceback" not in done.stderr


@pytest.fixture
def stack_process(
    tmp_path: Path, e2e_database: tuple[str, Engine], redis_server: RedisServer
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    env = {
        **os.environ,
        "RMA_DATABASE_URL": e2e_database[0],
        "RMA_BROKER_URL": redis_server.url,
        "RMA_API_KEYS": API_KEY,
        "RMA_API_PORT": str(port),
        "RMA_FLOWER_PORT": str(free_port()),
        "RMA_LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "rma.cli.main", "stack", "--state-dir", str(tmp_path / "stack")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process, port
    finally:
        if process.poll() is None:
            # SIGTERM first: the stack stops its children (each in its own session); a SIGKILL would orphan them.
            process.terminate()
            try:
                process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()  # a failed test leaves it open; its ResourceWarning would fail a later test


def _children_of(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(line) for line in out.split()]


def test_stack_starts_every_process_and_stops_gracefully(stack_process: tuple[subprocess.Popen[str], int]) -> None:
    process, port = stack_process
    wait_until(lambda: api_ready(f"http://127.0.0.1:{port}"), timeout=60, what="the stack's API")
    children = _children_of(process.pid)
    assert len(children) == 13  # two API processes on one port, 8 stage workers, beat, relay, flower
    response = httpx.post(
        f"http://127.0.0.1:{port}/v1/returns", json={"surprise": True}, headers={"X-API-Key": API_KEY}, timeout=10
    )
    assert response.status_code == 422

    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=90)
    assert process.returncode == 0, output[-3000:]
    assert "stopped:" in output
    time.sleep(0.5)
    assert not [pid for pid in children if _alive(pid)], "a child outlived the stack"
    assert "Traceback" not in output, output[-3000:]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
