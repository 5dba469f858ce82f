"""Count the SQL statements each task issues per return: the figure that tracks how much database work a return costs.

`uv run python scripts/statements_per_return.py [RETURNS]` runs the embedded demo (the production tasks, chains and
beat on SQLite and the in-memory broker; default 400 returns), counts every statement the engine sends, by the task
that sent it, and prints a table: tasks run, statements, statements per task and per return. Statement counts are the
same on PostgreSQL, where each one is also a round trip; the bench's CPU figures come from `rma bench`.
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import structlog
from celery.signals import task_prerun
from sqlalchemy import event
from sqlalchemy.engine import Engine

from rma.demo.embedded import run_demo

statements: Counter[str] = Counter()
tasks: Counter[str] = Counter()


@event.listens_for(Engine, "before_cursor_execute")
def _count_statement(*_: Any) -> None:  # noqa: ANN401 - SQLAlchemy's event signature
    statements[structlog.contextvars.get_contextvars().get("task_name") or "(outside tasks: intake, relay)"] += 1


@task_prerun.connect
def _count_task(task: Any = None, **_: Any) -> None:  # noqa: ANN401 - Celery's signal signature
    if task is not None:
        tasks[task.name] += 1


def main() -> None:
    returns = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    with tempfile.TemporaryDirectory() as scratch:
        summary = run_demo(returns=returns, database=Path(scratch) / "statements.db")
    if summary.non_terminal:
        raise SystemExit(f"{summary.non_terminal} returns did not finish: the counts would be incomplete")
    rows = [f"{'task':40} {'tasks':>7} {'statements':>11} {'per task':>9} {'per return':>11}"]
    for name, count in statements.most_common():
        ran = tasks.get(name, 0)
        per_task = f"{count / ran:9.1f}" if ran else f"{'':9}"
        rows.append(f"{name:40} {ran:7d} {count:11d} {per_task} {count / returns:11.2f}")
    total = sum(statements.values())
    rows.append(f"{'total':40} {sum(tasks.values()):7d} {total:11d} {'':9} {total / returns:11.2f}")
    sys.stdout.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
