"""Group commit of single intake requests, with a store that records its calls (the storage itself is
`submit_batch`, tested against the databases in the integration and API tests)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait

import pytest

from rma.domain.requests import ReturnRequest
from rma.services.group_intake import GroupedIntake, IntakeClosedError
from rma.services.intake import Submitted

MakeRequest = Callable[..., ReturnRequest]


class RecordingStore:
    """Answers each request with a fresh id; holds its first call until released, so that others queue up."""

    def __init__(self, *, poisoned: str | None = None) -> None:
        self.groups: list[list[str]] = []
        self.first_call = threading.Event()
        self.release = threading.Event()
        self._poisoned = poisoned

    def __call__(self, requests: Sequence[ReturnRequest]) -> list[Submitted]:
        keys = [request.upstream_request_id for request in requests]
        self.groups.append(keys)
        self.first_call.set()
        assert self.release.wait(10)
        if self._poisoned in keys:
            raise ValueError("this request cannot be stored")
        return [Submitted(uuid.uuid5(uuid.NAMESPACE_OID, key), created=True) for key in keys]


def _answers(futures: dict[str, Future[Submitted]]) -> dict[str, uuid.UUID | str]:
    _, pending = wait(futures.values(), timeout=10)
    assert not pending
    return {
        key: (future.result().return_id if future.exception() is None else str(future.exception()))
        for key, future in futures.items()
    }


def test_requests_that_queue_behind_a_commit_are_stored_together(make_request: MakeRequest) -> None:
    store = RecordingStore()
    intake = GroupedIntake(store)
    first = intake.submit(make_request(upstream_request_id="r-0"))
    assert store.first_call.wait(10)  # the writer is busy with r-0: the next ones queue up behind it
    later = {f"r-{n}": intake.submit(make_request(upstream_request_id=f"r-{n}")) for n in range(1, 31)}
    store.release.set()
    answers = _answers({"r-0": first, **later})
    intake.stop()
    assert store.groups == [["r-0"], [f"r-{n}" for n in range(1, 31)]]
    assert answers == {key: uuid.uuid5(uuid.NAMESPACE_OID, key) for key in answers}  # each caller its own answer


def test_a_group_is_no_larger_than_its_limit(make_request: MakeRequest) -> None:
    store = RecordingStore()
    intake = GroupedIntake(store, max_group=4)
    futures = {"r-0": intake.submit(make_request(upstream_request_id="r-0"))}
    assert store.first_call.wait(10)
    futures |= {f"r-{n}": intake.submit(make_request(upstream_request_id=f"r-{n}")) for n in range(1, 11)}
    store.release.set()
    _answers(futures)
    intake.stop()
    assert [len(group) for group in store.groups] == [1, 4, 4, 2]


def test_a_failing_group_is_retried_request_by_request(make_request: MakeRequest) -> None:
    store = RecordingStore(poisoned="r-3")
    intake = GroupedIntake(store)
    futures = {"r-0": intake.submit(make_request(upstream_request_id="r-0"))}
    assert store.first_call.wait(10)
    futures |= {f"r-{n}": intake.submit(make_request(upstream_request_id=f"r-{n}")) for n in range(1, 6)}
    store.release.set()
    answers = _answers(futures)
    intake.stop()
    assert answers.pop("r-3") == "this request cannot be stored"  # the culprit alone is refused
    assert answers == {key: uuid.uuid5(uuid.NAMESPACE_OID, key) for key in answers}
    assert store.groups[1] == [f"r-{n}" for n in range(1, 6)]  # tried together first, then one at a time
    assert store.groups[2:] == [[f"r-{n}"] for n in range(1, 6)]


def test_stop_stores_what_is_queued_and_refuses_what_comes_after(make_request: MakeRequest) -> None:
    store = RecordingStore()
    intake = GroupedIntake(store)
    futures = {f"r-{n}": intake.submit(make_request(upstream_request_id=f"r-{n}")) for n in range(5)}
    assert store.first_call.wait(10)
    stopping = threading.Thread(target=intake.stop)
    stopping.start()
    store.release.set()
    stopping.join(10)
    assert not stopping.is_alive()
    assert sorted(_answers(futures)) == sorted(futures)  # every queued caller was answered
    assert sum(len(group) for group in store.groups) == 5
    with pytest.raises(IntakeClosedError, match="shutting down"):
        intake.submit(make_request(upstream_request_id="late"))
