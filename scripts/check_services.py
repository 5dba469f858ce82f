"""Fail fast, with a clear message, when a service the tests need does not answer."""

from __future__ import annotations

import os
import socket
import sys

import psycopg
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get("RMA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_HOST, REDIS_PORT = "127.0.0.1", int(os.environ.get("RMA_TEST_REDIS_PORT", "6379"))


def check_postgres() -> str | None:
    url = make_url(POSTGRES_URL).set(drivername="postgresql")
    try:
        with psycopg.connect(url.render_as_string(hide_password=False), connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {url.host}:{url.port} does not answer: {exc}".strip()
    return None


def check_redis() -> str | None:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=5) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError as exc:
        return f"Redis at {REDIS_HOST}:{REDIS_PORT} does not answer: {exc}"
    if not reply.startswith(b"+PONG"):
        return f"Redis at {REDIS_HOST}:{REDIS_PORT} answered {reply!r} to PING"
    return None


def main() -> int:
    problems = [p for p in (check_postgres(), check_redis()) if p]
    for problem in problems:
        sys.stderr.write(f"service check failed: {problem}\n")
    if problems:
        sys.stderr.write("start the service (see README, 'Services the tests need') and run the tests again\n")
        return 1
    sys.stdout.write("services: PostgreSQL and Redis answer\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
