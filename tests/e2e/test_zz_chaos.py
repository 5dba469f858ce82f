"""A small `rma chaos` run is part of the suite: every kind of injury once, then nothing lost or done twice.

It runs on a private PostgreSQL server, which it restarts; the machine's shared services are not touched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_small_chaos_run_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rma.cli.main",
            "chaos",
            "--returns",
            "400",
            "--kill-every",
            "2",
            "--timeout",
            "300",
            "--json",
            "--workdir",
            str(tmp_path / "chaos"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "RMA_LOG_FORMAT": "json"},
    )
    result = json.loads(done.stdout)
    assert done.returncode == 0, (result, done.stderr[-3000:])
    assert result["submitted"] == 400
    assert result["completed"] + result["needs_attention"] == 400
    assert result["lost"] == 0
    assert result["duplicate_labels"] == 0
    assert result["duplicate_refunds"] == 0
    assert result["over_refunds"] == 0
    assert result["audit_sound"] is True
    assert result["kills"] >= 3
    assert {"redis flushall", "postgres restart"} <= set(result["recovery_seconds"])
    assert set(result["fault_points_fired"]) >= {"labels.after_carrier", "refunds.after_gateway", "notify.after_send"}
