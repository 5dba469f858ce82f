"""The return repository and unit of work, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from rma.adapters.db.tables import ReturnRow, TimelineRow
from rma.domain.errors import ConcurrentUpdateError
from rma.domain.lifecycle import Actor, Status
from rma.domain.returns import ReturnAuthorization
from rma.services.context import StageContext
from rma.services.intake import submit_batch, submit_return
from rma.services.issuance import issue
from rma.services.retry import retry_on_conflict

NOW = datetime(2026, 10, 20, 15, 30, tzinfo=UTC)


def _store(uow_factory: Any, ret: ReturnAuthorization) -> None:
    with uow_factory() as uow:
        uow.returns.add(ret)
        uow.commit()


def test_round_trip_preserves_the_aggregate(uow_factory: Any, make_request: Any, make_ctx: Any) -> None:
    ret = ReturnAuthorization.receive(make_request(), return_id=uuid.uuid4(), at=NOW)
    _store(uow_factory, ret)
    issue(make_ctx("ACME"), ret.id)

    with uow_factory() as uow:
        loaded = uow.returns.get(ret.id)
    assert loaded is not None
    assert loaded.status is Status.AUTHORIZED
    assert loaded.rma_number is not None
    assert loaded.rma_number.startswith("ACME-")
    assert loaded.request == ret.request
    assert loaded.decision is not None
    assert loaded.decision.refund.amount == 11534
    assert [e.to_status for e in loaded.timeline] == [Status.REQUESTED, Status.AUTHORIZED]
    assert all(e.at.tzinfo is not None for e in loaded.timeline)
    assert loaded.version == 2

    with uow_factory() as uow:
        assert uow.returns.get_by_rma_number(loaded.rma_number) == loaded
        assert uow.returns.get_by_upstream(ret.channel, ret.upstream_request_id) == loaded
        assert uow.returns.get(uuid.uuid4()) is None


def test_uncommitted_work_is_rolled_back(uow_factory: Any, make_request: Any) -> None:
    ret = ReturnAuthorization.receive(make_request(), return_id=uuid.uuid4(), at=NOW)
    with uow_factory() as uow:
        uow.returns.add(ret)
        # no commit
    with uow_factory() as uow:
        assert uow.returns.get(ret.id) is None


def test_repeated_request_returns_the_existing_return(uow_factory: Any, make_request: Any, engine: Engine) -> None:
    request = make_request()
    first = submit_return(uow_factory(), request, now=NOW, due_at=NOW)
    second = submit_return(uow_factory(), request, now=NOW + timedelta(minutes=5), due_at=NOW)
    assert first.created
    assert not second.created
    assert second.return_id == first.return_id
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ReturnRow)) == 1


def test_same_upstream_id_on_another_channel_is_another_return(uow_factory: Any, make_request: Any) -> None:
    request = make_request()
    other = request.model_copy(update={"channel": "shopify"})
    assert (
        submit_return(uow_factory(), request, now=NOW, due_at=NOW).return_id
        != submit_return(uow_factory(), other, now=NOW, due_at=NOW).return_id
    )


def test_two_interleaved_updates_cannot_both_commit(pg_uow_factory: Any, make_request: Any) -> None:
    # PostgreSQL only: SQLite serialises writers at BEGIN IMMEDIATE, so there the interleaving cannot happen (the
    # racing-writers test below covers both).
    uow_factory = pg_uow_factory
    ret = ReturnAuthorization.receive(make_request(), return_id=uuid.uuid4(), at=NOW)
    _store(uow_factory, ret)

    first, second = uow_factory(), uow_factory()
    with first, second:
        a = first.returns.get(ret.id)
        b = second.returns.get(ret.id)
        assert a is not None
        assert b is not None
        a.transition(Status.PENDING_REVIEW, at=NOW, actor=Actor.POLICY, cause="writer A")
        b.transition(Status.REJECTED, at=NOW, actor=Actor.POLICY, cause="writer B")
        first.returns.save(a)
        first.commit()

        def save_and_commit() -> None:
            second.returns.save(b)  # the conflict shows at save (it flushes) or at the latest at commit
            second.commit()

        with pytest.raises(ConcurrentUpdateError):
            save_and_commit()

    with uow_factory() as uow:
        stored = uow.returns.get(ret.id)
    assert stored is not None
    assert stored.status is Status.PENDING_REVIEW
    assert [e.cause for e in stored.timeline] == ["request received", "writer A"]
    assert stored.version == 2


def test_racing_writers_one_wins_the_others_see_its_result(uow_factory: Any, make_request: Any) -> None:
    ret = ReturnAuthorization.receive(make_request(), return_id=uuid.uuid4(), at=NOW)
    _store(uow_factory, ret)
    start = threading.Barrier(6)

    def decide(target: Status) -> bool:
        def attempt() -> bool:
            with uow_factory() as uow:
                current = uow.returns.get(ret.id)
                assert current is not None
                if current.status is not Status.REQUESTED:
                    return False  # someone else decided first: nothing to do
                current.transition(target, at=NOW, actor=Actor.POLICY, cause=f"decided {target}")
                uow.returns.save(current)
                uow.commit()
                return True

        start.wait()
        return retry_on_conflict(attempt, attempts=10)

    targets = [Status.AUTHORIZED, Status.REJECTED, Status.PENDING_REVIEW] * 2
    with ThreadPoolExecutor(max_workers=6) as pool:
        wins = list(pool.map(decide, targets))

    assert sum(wins) == 1
    with uow_factory() as uow:
        stored = uow.returns.get(ret.id)
    assert stored is not None
    assert len(stored.timeline) == 2
    assert stored.timeline[1].to_status is stored.status
    assert stored.version == 2


def test_rma_numbers_are_unique_under_concurrent_issuance(
    uow_factory: Any, make_request: Any, ctx: StageContext
) -> None:
    ids = [
        submit_return(uow_factory(), make_request(order_id=f"o-{i}"), now=NOW, due_at=NOW).return_id for i in range(24)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda rid: issue(ctx, rid), ids))
    with uow_factory() as uow:
        numbers = [ret.rma_number for rid in ids if (ret := uow.returns.get(rid)) is not None]
    assert len(numbers) == 24
    assert None not in numbers
    assert len(set(numbers)) == 24


def test_order_history_counts_claimed_units_but_not_released_ones(
    uow_factory: Any, make_request: Any, ctx: StageContext
) -> None:
    first = make_request()
    first_id = submit_return(uow_factory(), first, now=NOW, due_at=NOW).return_id
    issue(ctx, first_id)
    with uow_factory() as uow:
        history = uow.returns.order_history(first.channel, first.order_id)
        assert history.claimed_quantity == {"ol-1": 1, "ol-2": 1}
        assert uow.returns.order_history(first.channel, first.order_id, excluding=first_id).claimed_quantity == {}
        ret = uow.returns.get(first_id)
        assert ret is not None
        ret.transition(Status.CANCELLED, at=NOW, actor=Actor.OPERATOR, cause="customer withdrew")
        uow.returns.save(ret)
        uow.commit()
    with uow_factory() as uow:
        assert uow.returns.order_history(first.channel, first.order_id).claimed_quantity == {}


def test_second_return_of_the_same_units_is_rejected(uow_factory: Any, make_request: Any, ctx: StageContext) -> None:
    first = make_request()
    issue(ctx, submit_return(uow_factory(), first, now=NOW, due_at=NOW).return_id)
    again = make_request()  # same order and lines, new upstream id: ol-2 has no units left
    status = issue(ctx, submit_return(uow_factory(), again, now=NOW, due_at=NOW).return_id)
    assert status is Status.AUTHORIZED  # ol-1 still has one of its two units
    with uow_factory() as uow:
        ret = uow.returns.get_by_upstream(again.channel, again.upstream_request_id)
    assert ret is not None
    assert {line.order_line_id: line.status for line in ret.lines} == {
        "ol-1": Status.AUTHORIZED,
        "ol-2": Status.REJECTED,
    }


def test_issuing_twice_changes_nothing(uow_factory: Any, make_request: Any, ctx: StageContext) -> None:
    return_id = submit_return(uow_factory(), make_request(), now=NOW, due_at=NOW).return_id
    issue(ctx, return_id)
    with uow_factory() as uow:
        before = uow.returns.get(return_id)
    issue(ctx, return_id)
    with uow_factory() as uow:
        assert uow.returns.get(return_id) == before


def test_ids_due_selects_by_status_and_deadline(uow_factory: Any, make_request: Any) -> None:
    due, later, other = (ReturnAuthorization.receive(make_request(), return_id=uuid.uuid4(), at=NOW) for _ in range(3))
    due.transition(Status.PENDING_REVIEW, at=NOW, actor=Actor.POLICY, cause="x", due_at=NOW - timedelta(hours=1))
    later.transition(Status.PENDING_REVIEW, at=NOW, actor=Actor.POLICY, cause="x", due_at=NOW + timedelta(days=2))
    other.transition(Status.REJECTED, at=NOW, actor=Actor.POLICY, cause="x", due_at=NOW - timedelta(hours=1))
    for ret in (due, later, other):
        _store(uow_factory, ret)
    with uow_factory() as uow:
        assert list(uow.returns.ids_due(Status.PENDING_REVIEW, now=NOW, limit=10)) == [due.id]
        assert uow.returns.count_by_status() == {Status.PENDING_REVIEW: 2, Status.REJECTED: 1}


def test_list_by_order(uow_factory: Any, make_request: Any) -> None:
    a, b = make_request(), make_request()
    c = make_request(order_id="999-0000000-0000000")
    for request in (a, b, c):
        submit_return(uow_factory(), request, now=NOW, due_at=NOW)
    with uow_factory() as uow:
        found = uow.returns.list_by_order(a.channel, a.order_id)
    assert {r.upstream_request_id for r in found} == {a.upstream_request_id, b.upstream_request_id}


def test_timeline_rows_are_append_only_on_postgresql(pg_uow_factory: Any, make_request: Any, postgres: Engine) -> None:
    engine = postgres
    ret = ReturnAuthorization.receive(make_request(), return_id=uuid.uuid4(), at=NOW)
    _store(pg_uow_factory, ret)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE return_timeline SET cause = 'rewritten'"))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM return_timeline"))
    with engine.connect() as conn:
        assert conn.scalar(select(TimelineRow.cause)) == "request received"


def test_concurrent_submissions_of_one_request_store_it_once(
    uow_factory: Any, make_request: Any, engine: Engine
) -> None:
    request = make_request()
    start = threading.Barrier(8)

    def submit(_: int) -> tuple[uuid.UUID, bool]:
        start.wait()
        result = submit_return(uow_factory(), request, now=NOW, due_at=NOW)
        return result.return_id, result.created

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(submit, range(8)))

    assert len({return_id for return_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ReturnRow)) == 1


def test_overlapping_batches_submitted_at_once_store_each_request_once(
    uow_factory: Any, make_request: Any, engine: Engine
) -> None:
    """Bulk writes (COPY on PostgreSQL) that collide on a request another batch stored first fall back to one
    transaction per request: nothing is stored twice, nothing is lost, every caller gets the same answer."""
    requests = [make_request(order_id=f"overlap-{i}") for i in range(40)]
    batches = [requests[0:25], requests[15:40], requests[10:30], requests]
    start = threading.Barrier(len(batches))

    def submit(batch: list[Any]) -> list[tuple[str, uuid.UUID]]:
        start.wait()
        results = submit_batch(uow_factory, batch, now=NOW, due_at=NOW)
        return [(request.upstream_request_id, result.return_id) for request, result in zip(batch, results, strict=True)]

    with ThreadPoolExecutor(max_workers=len(batches)) as pool:
        answers = [pair for answer in pool.map(submit, batches) for pair in answer]

    by_request: dict[str, set[uuid.UUID]] = {}
    for upstream, return_id in answers:
        by_request.setdefault(upstream, set()).add(return_id)
    assert len(by_request) == 40
    assert all(len(ids) == 1 for ids in by_request.values())  # one return per request, whoever asked
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ReturnRow)) == 40
        assert conn.scalar(select(func.count()).select_from(TimelineRow)) == 40


def test_a_batch_reads_the_histories_of_its_single_order_returns_together(
    uow_factory: Any, make_request: Any, ctx: StageContext
) -> None:
    earlier = make_request(order_id="o-shared")
    issue(ctx, submit_return(uow_factory(), earlier, now=NOW, due_at=NOW).return_id)  # claims o-shared's units
    alone, twin_a, twin_b = (
        make_request(order_id="o-shared"),
        make_request(order_id="o-twin"),
        make_request(order_id="o-twin"),
    )
    ids = [submit_return(uow_factory(), r, now=NOW, due_at=NOW).return_id for r in (alone, twin_a, twin_b)]
    with uow_factory() as uow:
        rets = list(uow.returns.get_many(ids).values())
        histories = uow.returns.order_histories(rets)
        # the twins share an order within the batch: each must read its history after the other's decision
        assert set(histories) == {ids[0]}
        expected = uow.returns.order_history(alone.channel, "o-shared", excluding=ids[0])
        assert histories[ids[0]] == expected
        assert expected.claimed_quantity == {"ol-1": 1, "ol-2": 1}  # the earlier return's claim, not its own
        assert uow.returns.order_histories([]) == {}
