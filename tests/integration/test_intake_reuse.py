"""Intake compares a repeat with the request first stored under its key, on SQLite and the real PostgreSQL: in one
transaction, across a batch, and in the fallback a batch takes when a concurrent submission wins a race."""

from __future__ import annotations

from typing import Any, Self

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.conftest import NOW

from rma.adapters.db import SqlAlchemyUnitOfWork, make_session_factory
from rma.domain.errors import IdempotencyKeyReusedError
from rma.services.flow import ReturnFlow
from rma.services.intake import submit_batch, submit_return


class RaceLost(SqlAlchemyUnitOfWork):
    """The batch's first look finds none of the keys, as if their returns were stored concurrently just after."""

    def __enter__(self) -> Self:
        uow = super().__enter__()
        uow.returns.ids_by_upstream = lambda _keys: {}  # type: ignore[method-assign]
        return uow


def _count(session_factory: sessionmaker[Session]) -> int:
    with SqlAlchemyUnitOfWork(session_factory, flow=ReturnFlow()) as uow:
        return sum(uow.returns.count_by_status().values())


def test_submit_return_refuses_a_different_request_under_a_used_key(uow_factory: Any, make_request: Any) -> None:
    first = make_request()
    created = submit_return(uow_factory(), first, now=NOW, due_at=NOW)
    assert submit_return(uow_factory(), first.model_copy(), now=NOW, due_at=NOW).return_id == created.return_id
    with pytest.raises(IdempotencyKeyReusedError) as refused:
        submit_return(uow_factory(), first.model_copy(update={"order_id": "other"}), now=NOW, due_at=NOW)
    (reuse,) = refused.value.reuses
    assert (reuse.index, reuse.channel, reuse.upstream_request_id) == (0, first.channel, first.upstream_request_id)
    assert reuse.differing == ("order_id",)


def test_the_race_fallback_names_each_conflict_by_position_and_stores_the_rest(
    engine: Engine, make_request: Any
) -> None:
    """On both backends: the bulk insert's unique violation on the upstream key is a lost race, not an error."""
    session_factory = make_session_factory(engine)

    def uow_factory() -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(session_factory, flow=ReturnFlow())

    stored = make_request()
    submit_return(uow_factory(), stored, now=NOW, due_at=NOW)
    fresh = [make_request(), make_request()]
    batch = [fresh[0], stored.model_copy(update={"customer_id": "c-2"}), fresh[1]]
    calls: list[int] = []

    def factory() -> SqlAlchemyUnitOfWork:
        calls.append(1)
        return RaceLost(session_factory, flow=ReturnFlow()) if len(calls) == 1 else uow_factory()

    with pytest.raises(IdempotencyKeyReusedError) as refused:
        submit_batch(factory, batch, now=NOW, due_at=NOW)

    assert len(calls) == 1 + len(batch)  # the batch, then one transaction per request
    assert [(r.index, r.differing) for r in refused.value.reuses] == [(1, ("customer_id",))]
    assert _count(session_factory) == 3  # the stored one and the two fresh ones, each alone, as a retry would
    assert [r.created for r in submit_batch(uow_factory, [fresh[0], stored, fresh[1]], now=NOW, due_at=NOW)] == [
        False,
        False,
        False,
    ]
