"""What the PostgreSQL server the system runs on is configured to do, where that decides how the system behaves."""

from __future__ import annotations

from sqlalchemy import Engine, text

_SHOWN = ("server_version", "autovacuum", "fsync", "synchronous_commit", "shared_buffers")


def server_settings(engine: Engine) -> dict[str, str]:
    """The settings a benchmark report and a start-up check show (empty on SQLite)."""
    if engine.dialect.name != "postgresql":
        return {}
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT name, setting FROM pg_settings WHERE name = ANY(:names)"), {"names": list(_SHOWN)}
        )
        return {str(name): str(setting) for name, setting in rows}


def configuration_warnings(settings: dict[str, str]) -> list[str]:
    """What in the server's settings works against this system under load."""
    warnings = []
    if settings.get("autovacuum", "on") != "on":
        # Every status change writes a new row version: without autovacuum the tables bloat without end, and
        # without its ANALYZE the planner keeps plans made for empty tables (one intake lookup then read a whole
        # channel's returns, 100,000 rows, while a backlog was queued).
        warnings.append("PostgreSQL runs with autovacuum off: tables bloat and query plans go stale under load")
    if settings.get("fsync", "on") != "on" or settings.get("synchronous_commit", "on") == "off":
        warnings.append("PostgreSQL runs without fsync or synchronous_commit: an acknowledged return can be lost")
    return warnings
