"""Which PostgreSQL settings the start-up check and the bench report warn about (pure: settings in, warnings out)."""

from __future__ import annotations

from rma.adapters.db.server import configuration_warnings

PRODUCTION = {"autovacuum": "on", "fsync": "on", "synchronous_commit": "on"}


def test_a_production_configuration_gets_no_warning() -> None:
    assert configuration_warnings(PRODUCTION) == []
    assert configuration_warnings({}) == []  # SQLite: nothing to say


def test_autovacuum_off_is_named() -> None:
    (warning,) = configuration_warnings({**PRODUCTION, "autovacuum": "off"})
    assert "autovacuum off" in warning


def test_commits_that_may_be_lost_are_named() -> None:
    for risky in ({"fsync": "off"}, {"synchronous_commit": "off"}):
        (warning,) = configuration_warnings({**PRODUCTION, **risky})
        assert "can be lost" in warning
    assert configuration_warnings({**PRODUCTION, "synchronous_commit": "local"}) == []
