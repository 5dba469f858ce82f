"""Customer messages: one idempotency key per (return, event); reasons only where they explain a decision."""

from __future__ import annotations

import pytest

from rma.domain.lifecycle import Status
from rma.domain.notifications import CUSTOMER_EVENTS, render


def test_decision_messages_carry_the_reasons() -> None:
    message = render(
        return_id="r-1", rma_number="RMA-K5183BB0A", event=Status.REJECTED, reasons=["The window closed on May 1."]
    )
    assert message.idempotency_key == "r-1:rejected"
    assert message.subject == "We could not accept your return request (RMA-K5183BB0A)"
    assert "The window closed on May 1." in message.body


def test_other_messages_do_not_repeat_reasons_and_work_without_an_rma_number() -> None:
    message = render(return_id="r-1", rma_number=None, event=Status.IN_TRANSIT, reasons=["x"], detail="lost")
    assert message.subject == "Your return is on its way"
    assert "x" not in message.body.split("\n")
    assert message.body.endswith("lost")


@pytest.mark.parametrize("status", sorted(CUSTOMER_EVENTS))
def test_every_customer_event_renders(status: Status) -> None:
    assert render(return_id="r", rma_number="RMA-1", event=status, reasons=[]).subject


def test_internal_steps_are_not_announced() -> None:
    assert not CUSTOMER_EVENTS & {Status.REQUESTED, Status.REFUND_PENDING, Status.NEEDS_ATTENTION, Status.CLOSED}
