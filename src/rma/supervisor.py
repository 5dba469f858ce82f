"""A small process supervisor: starts the stack's processes, restarts any that die, stops them all gracefully.

`rma stack` uses it; so do the end-to-end and fault tests, which kill its children on purpose."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from rma.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class _Child:
    spec: ProcessSpec
    process: subprocess.Popen[bytes]
    started: float
    restarts: int = 0


def rma_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "rma.cli.main", *args]


class Supervisor:
    def __init__(self, specs: list[ProcessSpec], *, log_dir: Path | None = None, restart: bool = True) -> None:
        self._specs = specs
        self._log_dir = log_dir
        self._restart = restart
        self._children: dict[str, _Child] = {}
        self._stopping = False

    def _output(self, name: str) -> IO[bytes] | None:
        if self._log_dir is None:
            return None
        self._log_dir.mkdir(parents=True, exist_ok=True)
        return (self._log_dir / f"{name}.log").open("ab")

    def _spawn(self, spec: ProcessSpec) -> subprocess.Popen[bytes]:
        out = self._output(spec.name)
        try:
            # Each child in its own session: a Ctrl-C at the terminal reaches only the supervisor, which then stops
            # the children in order (SIGTERM: Celery's warm shutdown) instead of all being interrupted at once.
            return subprocess.Popen(  # noqa: S603 - our own argv
                spec.argv,
                env={**os.environ, "RMA_PROCESS_NAME": spec.name, **spec.env},
                stdout=out,
                stderr=subprocess.STDOUT if out else None,
                start_new_session=True,
            )
        finally:
            if out is not None:
                out.close()  # the child holds its own copy of the descriptor

    def start(self) -> None:
        for spec in self._specs:
            self._children[spec.name] = _Child(spec, self._spawn(spec), time.monotonic())
            log.info("process_started", process=spec.name, pid=self._children[spec.name].process.pid)

    def add(self, spec: ProcessSpec) -> None:
        """Start one more process under supervision (a second worker of a stage, say)."""
        if spec.name in self._children:
            raise ValueError(f"a process named {spec.name!r} is already supervised")
        self._specs.append(spec)
        self._children[spec.name] = _Child(spec, self._spawn(spec), time.monotonic())
        log.info("process_started", process=spec.name, pid=self._children[spec.name].process.pid)

    def spec(self, name: str) -> ProcessSpec:
        return self._children[name].spec

    def pid(self, name: str) -> int:
        return self._children[name].process.pid

    def names(self) -> list[str]:
        return list(self._children)

    def check(self) -> list[str]:
        """Restart children that exited (unless stopping); answers the names restarted."""
        restarted = []
        for name, child in self._children.items():
            code = child.process.poll()
            if code is None or self._stopping or not self._restart:
                continue
            log.warning("process_exited", process=name, code=code, restarting=True)
            child.process = self._spawn(child.spec)
            child.restarts += 1
            child.started = time.monotonic()
            restarted.append(name)
        return restarted

    def restarts(self, name: str) -> int:
        return self._children[name].restarts

    def alive(self, name: str) -> bool:
        return self._children[name].process.poll() is None

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        self._children[name].process.send_signal(sig)

    def stop(self, *, timeout: float = 60.0) -> dict[str, int | None]:
        """SIGTERM everyone (warm shutdown), wait up to `timeout`, then SIGKILL what is left. Answers exit codes."""
        self._stopping = True
        for child in self._children.values():
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self._children.values():
            remaining = max(0.0, deadline - time.monotonic())
            try:
                child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                log.warning("process_killed_after_timeout", process=child.spec.name)
                child.process.kill()
                child.process.wait(timeout=10)
        return {name: child.process.returncode for name, child in self._children.items()}

    def run_until_signalled(self, *, interval: float = 1.0) -> None:
        stop = False

        def request_stop(*_: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        while not stop:
            self.check()
            time.sleep(interval)
