"""A private PostgreSQL server for benchmarks and chaos runs: its own data directory and port, configured as a
production server is (autovacuum on), stopped and deleted at the end.

Why not a schema on the machine's shared server: that server may be tuned for CI rather than for load (this project's
CI machines run with autovacuum off, so a long run measures ever more bloated tables and plans made for empty ones),
its other users share the figures, and a chaos run that restarts it would restart it for everyone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "200",  # the stack's pools, plus connections a killed worker leaves until they time out
    "fsync": "on",
    "autovacuum": "on",
}


def _bindir() -> Path:
    """Where PostgreSQL's server binaries are: `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode == 0:
            candidates.append(Path(done.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "postgres").exists():
            return directory
    raise RuntimeError(
        "PostgreSQL's server binaries (initdb, postgres) are not installed; "
        "pass --database-url to run in an existing PostgreSQL instead"
    )


def _run_as() -> str | None:
    """initdb and postgres refuse to run as root: as root, they run as the `postgres` account."""
    return "postgres" if os.geteuid() == 0 else None


def _as_user(user: str | None) -> dict[str, Any]:
    # The account's own group and none of root's supplementary groups, as `runuser` would give it.
    return {} if user is None else {"user": user, "group": user, "extra_groups": []}


@dataclass
class PrivatePostgres:
    bindir: Path
    root: Path
    port: int
    user: str | None
    process: subprocess.Popen[bytes] | None = None

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def start(self, *, timeout: float = 60.0) -> None:
        options = [arg for key, value in SERVER_SETTINGS.items() for arg in ("-c", f"{key}={value}")]
        with (self.root / "postgres.log").open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own argv
                [
                    str(self.bindir / "postgres"),
                    "-D",
                    str(self.datadir),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.root),
                    *options,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                **_as_user(self.user),
                start_new_session=True,  # a Ctrl-C at the terminal reaches the bench, which stops the server in order
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the private PostgreSQL exited at start; see {self.root / 'postgres.log'}")
            if self.accepts_connections():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the private PostgreSQL did not start within {timeout:.0f} s")

    def accepts_connections(self) -> bool:
        try:
            with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres connect_timeout=2"):
                return True
        except psycopg.OperationalError:
            return False

    def stop(self, *, timeout: float = 60.0) -> None:
        """Fast shutdown (SIGINT: open transactions roll back, committed data stays), SIGKILL if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def start_private_postgres(port: int) -> PrivatePostgres:
    """initdb into a fresh directory (trust authentication, loopback only) and start the server on `port`."""
    bindir = _bindir()
    user = _run_as()
    root = Path(tempfile.mkdtemp(prefix="rma-postgres-"))
    if user is not None:
        shutil.chown(root, user=user)
    server = PrivatePostgres(bindir=bindir, root=root, port=port, user=user)
    try:
        with (root / "initdb.log").open("wb") as log:
            subprocess.run(  # noqa: S603 - our own argv
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(server.datadir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",  # only the empty cluster skips its fsync; the server itself runs with fsync on
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=root,
                **_as_user(user),
                check=True,
                timeout=120,
            )
        server.start()
    except BaseException:
        with contextlib.suppress(Exception):
            server.remove()
        raise
    return server
