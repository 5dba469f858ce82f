"""The private PostgreSQL server `rma bench` and `rma chaos` run on: configured like production, restartable with
its data intact, and gone without a trace when removed."""

from __future__ import annotations

import psycopg

from rma.adapters.db import create_db_engine
from rma.adapters.db.server import configuration_warnings, server_settings
from rma.bench.harness import free_port
from rma.bench.postgres import start_private_postgres


def test_a_private_server_runs_with_autovacuum_keeps_data_over_a_restart_and_is_removed() -> None:
    server = start_private_postgres(free_port())
    try:
        engine = create_db_engine(server.url)
        settings = server_settings(engine)
        engine.dispose()
        assert settings["autovacuum"] == "on"
        assert settings["fsync"] == "on"
        assert configuration_warnings(settings) == []
        dsn = f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (n int)")
            conn.execute("INSERT INTO kept VALUES (42)")
        server.restart()
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT n FROM kept").fetchall() == [(42,)]
    finally:
        server.remove()
    assert not server.root.exists()
    assert not server.accepts_connections()
