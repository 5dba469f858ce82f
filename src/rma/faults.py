"""Named fault points, for chaos and fault tests only: crash or stall a worker at a precise step of a task.

`RMA_FAULTS="labels.after_carrier=exit,refunds.after_gateway=sleep:5"`; `sleep-once:5` and `exit-once` act on the
first pass only: of the process, or of the whole deployment when RMA_FAULT_MARKERS names a directory shared by its
processes (a crash that repeated in every restarted process would never let the work through). With RMA_FAULTS empty
(production) every fault point is a no-op costing one lookup.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache

from rma.logging import get_logger

log = get_logger(__name__)

# The places a fault can be injected. Each sits where a crash hurts most.
POINTS = frozenset(
    {
        "labels.after_carrier",  # the carrier sold a label; nothing committed yet
        "refunds.after_gateway",  # the gateway paid; nothing committed yet
        "notify.after_send",  # the customer was told; not marked sent yet
        "outbox.after_commit",  # the state change committed; its message not published yet
    }
)


@lru_cache(maxsize=1)
def _plan() -> dict[str, str]:
    plan: dict[str, str] = {}
    from rma.config import get_settings  # noqa: PLC0415 - read once, on the first fault point reached

    for item in get_settings().faults.split(","):
        name, sep, action = item.strip().partition("=")
        if sep and name in POINTS:
            plan[name] = action
    return plan


_fired: set[str] = set()


def _first_time(name: str) -> bool:
    from rma.config import get_settings  # noqa: PLC0415

    if name in _fired:
        return False
    _fired.add(name)
    markers = get_settings().fault_markers
    if markers is None:
        return True
    try:
        # O_EXCL: exactly one process of the deployment wins the marker.
        os.close(os.open(markers / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def fault_point(name: str) -> None:
    action = _plan().get(name)
    if action is None:
        return
    if "-once" in action:
        if not _first_time(name):
            return
        action = action.replace("-once", "")
    log.warning("fault_injected", point=name, action=action)
    if action == "exit":
        os._exit(137)  # as abrupt as SIGKILL: no cleanup, no commit, no ack
    if action.startswith("sleep:"):
        time.sleep(float(action.removeprefix("sleep:")))
