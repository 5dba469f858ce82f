"""`rma bench` as a person runs it, at a small scale: the figures come out, and nothing it started is left behind (its
private PostgreSQL server, or its schema in a PostgreSQL it was given).

The figures themselves are not asserted (a benchmark prints numbers; a timed assertion would flake)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, text
from tests.conftest import POSTGRES_URL

from rma.bench.harness import start_bench_stack


def _bench(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rma.cli.main",
            "bench",
            "--returns",
            "60",
            "--single",
            "20",
            "--chains",
            "20",
            "--json",
            "--workdir",
            str(tmp_path / "bench"),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "RMA_LOG_FORMAT": "json"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done, json.loads(done.stdout)


def _bench_schemas() -> set[str]:
    engine = create_engine(POSTGRES_URL)
    with engine.connect() as conn:
        names = set(conn.scalars(text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rma_bench_%'")))
    engine.dispose()
    return names


def _private_servers() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("rma-postgres-*"))


def test_a_small_bench_reports_every_figure_and_an_audit(tmp_path: Path) -> None:
    before = _private_servers()
    _, report = _bench(tmp_path)
    postgres = report["postgres"]
    assert isinstance(postgres, dict)
    assert postgres["server"] == "private"
    assert postgres["autovacuum"] == "on"  # as in production, whatever the machine's shared server does
    e2e = report["end_to_end"]
    assert isinstance(e2e, dict)
    assert e2e["finished"] is True
    assert e2e["returns"] == 60 + 300  # the run's returns and the 300 single requests probing intake under load
    audit = report["audit"]
    assert isinstance(audit, dict)
    assert audit["sound"] is True
    # and the idle probes: the single endpoint with the workers paused and consuming, the client
    assert audit["by_status"] == {"closed": 60 + 300 + 20 + 20 + 20}
    idle = report["intake_idle"]
    assert isinstance(idle, dict)
    assert idle["single_workers_paused"]["accepted"] == 20  # every request answered 202 while nothing consumed
    assert report["intake_batch_workers_paused"]["accepted"] == report["intake_batch"]["accepted"] == 30
    cpu = report["cpu_end_to_end"]
    assert isinstance(cpu, dict)
    assert {"worker-issuance", "worker-notify", "postgres"} <= set(cpu["seconds"])
    assert float(report["ratio_to_bare_chain"]) > 0  # type: ignore[arg-type]
    assert report["whole_run_ratio_to_bare_chain"] == report["ratio_to_bare_chain"]  # the old key, the same figure
    sustained = report["sustained"]
    assert isinstance(sustained, dict)
    # A run this small may never queue beyond the floor: then there is no saturated window and no figure.
    assert sustained["window_seconds"] is not None or report["sustained_per_second"] is None
    closed = [point[2] for point in sustained["curve"]]
    assert closed == sorted(closed)
    assert 0 < closed[-1] <= e2e["returns"]
    growth = report["rss_over_run"]
    assert isinstance(growth, dict)
    assert set(growth) == set(report["rss_mib"])  # type: ignore[arg-type]  # every worker's memory over the run
    assert not _private_servers() - before  # its server stopped, its data deleted (another run may end meanwhile)


def test_a_stack_in_a_given_postgres_works_in_a_schema_it_drops_after(tmp_path: Path) -> None:
    before = _bench_schemas()
    stack = start_bench_stack(database_url=POSTGRES_URL, workdir=tmp_path / "stack")
    try:
        assert stack.postgres is None  # nothing of its own to start, restart or delete
        assert stack.postgres_settings["autovacuum"] in {"on", "off"}  # what the report shows and warns about
        assert _bench_schemas() - before == {stack.schema}
        with stack.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM returns")).scalar_one() == 0
    finally:
        stack.stop()
    assert stack.schema not in _bench_schemas()
