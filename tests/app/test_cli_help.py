"""`rma --help` as a new user reads it: every command says what it does, and then, where it matters, its exit code."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

# Every command `rma` registers; a new one must be added here (and say what it does).
COMMANDS = {
    "demo",
    "worker",
    "beat",
    "relay",
    "api",
    "stack",
    "audit",
    "bench",
    "chaos",
    "policy",
    "db",
    "dlq",
    "review",
}
# The commands that prove something, and the exit status that says it failed.
EXIT_1_WHEN = {
    "demo": "any did not finish",
    "audit": "violated",
    "bench": "did not finish",
    "chaos": "lost or done twice",
}
SUB_COMMANDS = {
    "policy": {"evaluate", "check"},
    "db": {"upgrade", "downgrade", "current"},
    "dlq": {"list", "replay"},
    "review": {"list", "decide"},
}
ROW = re.compile(r"^│ (?P<name>[a-z]+) +(?P<help>.*?) *│$")


def _listed(*args: str) -> dict[str, str]:
    """The command panel of `rma ... --help`, name -> short help, on a terminal wide enough not to wrap."""
    done = subprocess.run(
        [sys.executable, "-m", "rma.cli.main", *args, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "250", "RMA_LOG_FORMAT": "json"},
    )
    assert done.returncode == 0, done.stderr
    panel = done.stdout.split("Commands")[1]
    return {m["name"]: m["help"] for line in panel.splitlines() if (m := ROW.match(line.strip()))}


def test_every_command_says_what_it_does() -> None:
    listed = _listed()
    assert set(listed) == COMMANDS
    for name, text in listed.items():
        assert len(text.split()) >= 4, f"{name}: {text!r}"
        assert not text.lower().startswith("exit"), f"{name} is described only by its exit code: {text!r}"


@pytest.mark.parametrize(("name", "failure"), sorted(EXIT_1_WHEN.items()))
def test_what_first_then_the_exit_code(name: str, failure: str) -> None:
    text = _listed()[name]
    what, _, exit_code = text.partition("; exits 1 if ")
    assert exit_code, f"{name} does not state its exit code after what it does: {text!r}"
    assert len(what.split()) >= 5
    assert failure in exit_code


@pytest.mark.parametrize("group", sorted(SUB_COMMANDS))
def test_every_sub_command_says_what_it_does(group: str) -> None:
    listed = _listed(group)
    assert set(listed) == SUB_COMMANDS[group]
    for name, text in listed.items():
        assert len(text.split()) >= 4, f"{group} {name}: {text!r}"
        assert text[0].isupper(), f"{group} {name}: {text!r}"
        assert not text.lower().startswith(("exit", "oldest", "newest")), f"{group} {name}: {text!r}"
