"""`rma review` against a real SQLite database: the review queue as support staff see it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.app.test_cli_policy import EXAMPLE, rma

from rma.bootstrap import build_runtime, prepare_database
from rma.config import Settings
from rma.domain.lifecycle import Status
from rma.services.intake import submit_return
from rma.services.issuance import issue
from rma.worker.app import create_app


def test_list_and_decide(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'review.db'}"
    settings = Settings(database_url=url)
    runtime = build_runtime(settings, celery_app=create_app(settings))
    prepare_database(runtime.settings, runtime.engine)
    ctx = runtime.ctx
    data = json.loads(EXAMPLE.read_text())
    data["lines"][0]["unit_price"] = 60_000  # above the review threshold
    data["amount_captured"] = 200_000
    today = datetime.now(UTC).date()
    data["order_date"] = (today - timedelta(days=5)).isoformat()
    data["delivery_date"] = (today - timedelta(days=2)).isoformat()
    from rma.domain.requests import ReturnRequest  # noqa: PLC0415

    request = ReturnRequest.model_validate(data)
    return_id = submit_return(ctx.uow(), request, now=ctx.clock.now(), due_at=ctx.machine_deadline()).return_id
    assert issue(ctx, return_id) is Status.PENDING_REVIEW
    with ctx.uow() as uow:
        ret = uow.returns.get(return_id)
        assert ret is not None
        rma_number = ret.rma_number
    runtime.close()
    env = {"RMA_DATABASE_URL": url}

    listed = rma("review", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["rma_number"] == rma_number
    assert any("value" in reason for reason in row["reasons"])

    decided = rma("review", "decide", str(rma_number), "--approve", "--note", "regular customer", env=env)
    assert decided.returncode == 0, decided.stderr
    assert decided.stdout.strip() == f"{rma_number}: authorized"

    again = rma("review", "decide", str(rma_number), "--reject", env=env)
    assert again.returncode == 2
    assert "not pending_review" in json.loads(again.stderr)["error"]
    assert rma("review", "list", env=env).stdout.strip() == "no returns waiting for review"
    mistyped = rma("review", "decide", "RMA-00000000X", "--approve", env=env)
    assert mistyped.returncode == 2
