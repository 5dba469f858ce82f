"""`rma policy evaluate` as support staff run it: a real subprocess, JSON out, clear errors, no tracebacks."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "return_request.json"
README = ROOT / "README.md"


def rma(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rma.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "RMA_LOG_FORMAT": "json", **(env or {})},
    )


def _write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_evaluate_prints_the_decision() -> None:
    done = rma("policy", "evaluate", str(EXAMPLE), "--today", "2026-10-20")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["decision"] == "authorize"
    assert out["returnless"] is False
    assert out["reasons"][0] == "Your return of 2 items is authorized."
    assert out["refund"]["amount"] == 11534
    assert out["refund"]["currency"] == "USD"
    assert out["refund"]["restocking_fee"] == 1000
    assert out["refund"]["label_deduction"] == 0
    assert {hit["rule"] for hit in out["trace"]} >= {"policy.version", "window.open", "fee.restocking"}
    assert "jordan@example.com" not in done.stdout + done.stderr


def _readme_example() -> tuple[list[str], dict[str, Any]]:
    """The README's first `rma policy evaluate` command on the example, and the output it shows (abridged)."""
    found = re.search(
        r"```bash\nuv run rma (policy evaluate examples/\S+[^\n]*)\n```\n.*?```json\n(.*?)\n```",
        README.read_text(),
        re.DOTALL,
    )
    assert found, "the README shows no `uv run rma policy evaluate examples/...` example with its output"
    return shlex.split(found[1]), json.loads(found[2])


def _shown_in(shown: Any, actual: Any, where: str = "output") -> None:
    """Every key the README shows is in the actual output with the value shown (objects may be abridged)."""
    if isinstance(shown, dict):
        assert isinstance(actual, dict), where
        for key, value in shown.items():
            assert key in actual, f"{where}.{key}"
            _shown_in(value, actual[key], f"{where}.{key}")
    else:
        assert shown == actual, where


def test_the_readme_example_gives_what_the_readme_shows_on_any_day() -> None:
    args, shown = _readme_example()
    # It must not depend on the day the README is read: the example's window closed on 2026-11-05.
    assert "--today" in args
    done = subprocess.run(
        [sys.executable, "-m", "rma.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
        env={**os.environ, "RMA_LOG_FORMAT": "json"},
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert shown["decision"] == "authorize"
    _shown_in(shown, out)


def test_evaluate_after_the_window_rejects_with_a_readable_reason() -> None:
    done = rma("policy", "evaluate", str(EXAMPLE), "--today", "2026-12-20")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["decision"] == "reject"
    assert any("return window" in reason and "November 5, 2026" in reason for reason in out["reasons"])


def test_history_file_limits_the_returnable_quantity(tmp_path: Path) -> None:
    history = _write(tmp_path, "history.json", {"claimed_quantity": {"ol-1": 2, "ol-2": 1}})
    done = rma("policy", "evaluate", str(EXAMPLE), "--today", "2026-10-20", "--history", str(history))
    out = json.loads(done.stdout)
    assert out["decision"] == "reject"
    assert out["refund"]["amount"] == 0


def test_custom_policy_file(tmp_path: Path) -> None:
    text = (ROOT / "src" / "rma" / "policies" / "default.toml").read_text()
    policy = _write(tmp_path, "strict.toml", text.replace('out_of_policy = "reject"', 'out_of_policy = "review"'))
    done = rma("policy", "evaluate", str(EXAMPLE), "--today", "2026-12-20", "--policy", str(policy))
    assert json.loads(done.stdout)["decision"] == "review"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["lines"][0].update(unit_price="4999"), "lines[0].unit_price"),
        (lambda d: d.update(currency="DOLLARS"), "currency"),
        (lambda d: d.update(delivery_date="2026-09-01"), "delivery_date"),
        (lambda d: d.update(surprise=True), "surprise"),
        (lambda d: d.pop("order_id"), "order_id"),
        (lambda d: d.update(amount_captured=10), "amount_captured"),
    ],
)
def test_bad_request_exits_2_naming_the_field(tmp_path: Path, mutate: Any, field: str) -> None:
    data = json.loads(EXAMPLE.read_text())
    mutate(data)
    done = rma("policy", "evaluate", str(_write(tmp_path, "bad.json", data)))
    assert done.returncode == 2
    assert done.stdout == ""
    err = json.loads(done.stderr)
    assert field in [f["field"] for f in err["fields"]]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["policy", "evaluate", "missing.json"], "does not exist"),
        (["policy", "evaluate", "{not-json"], "not valid JSON"),
        (["policy", "evaluate", str(EXAMPLE), "--today", "2026-02-30"], "--today must be a date"),
        (["policy", "evaluate", str(EXAMPLE), "--policy", "{broken-policy}"], "policy file"),
    ],
)
def test_unusable_input_gives_a_message_not_a_traceback(tmp_path: Path, args: list[str], message: str) -> None:
    _write(tmp_path, "{not-json", "{")
    _write(tmp_path, "{broken-policy}", "[[versions]]\nversion = 1\n")
    resolved = [str(tmp_path / a) if a.startswith("{") else a for a in args]
    done = rma(*resolved)
    assert done.returncode == 2
    assert message in json.loads(done.stderr)["error"]
    assert "Traceback" not in done.stderr


def test_bad_settings_are_reported_by_field() -> None:
    done = rma("policy", "evaluate", str(EXAMPLE), env={"RMA_RMA_PREFIX": "lower"})
    assert done.returncode == 2
    assert json.loads(done.stderr)["fields"][0]["field"] == "rma_prefix"


def test_usage_errors_exit_2() -> None:
    done = rma("policy", "evaluate")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_policy_check_lists_versions() -> None:
    done = rma("policy", "check", str(ROOT / "src" / "rma" / "policies" / "default.toml"))
    assert done.returncode == 0
    assert done.stdout.startswith("2026.1\teffective from 2020-01-01")
