"""`rma db ...` on a real database file and against an unreachable server."""

from __future__ import annotations

from pathlib import Path

from tests.app.test_cli_policy import rma


def test_upgrade_current_downgrade(tmp_path: Path) -> None:
    env = {"RMA_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    assert rma("db", "current", env=env).stdout.strip() == "(empty)"
    up = rma("db", "upgrade", env=env)
    assert up.returncode == 0, up.stderr
    assert "database at revision 0005" in up.stdout
    assert rma("db", "current", env=env).stdout.strip() == "0005"
    down = rma("db", "downgrade", "base", env=env)
    assert down.returncode == 0, down.stderr
    assert rma("db", "current", env=env).stdout.strip() == "(empty)"


def test_unreachable_database_is_a_message_not_a_traceback() -> None:
    done = rma("db", "current", env={"RMA_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    assert done.returncode == 1
    assert "database error" in done.stderr
    assert "Traceback" not in done.stderr
