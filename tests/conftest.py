"""Shared test settings: where the real services of this machine are."""

from __future__ import annotations

import os

# The real PostgreSQL the integration tests run against (trust auth). Override with RMA_TEST_POSTGRES_URL.
POSTGRES_URL = os.environ.get("RMA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
