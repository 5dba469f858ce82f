"""The HTTP API's factory. Nothing happens at import: the caller builds the runtime (engine, providers, publisher)
and hands it over, so tests, the CLI and a server process each decide where the database is."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Final

import anyio
from fastapi import FastAPI

from rma.api import health, routes_carriers, routes_returns, routes_reviews
from rma.api.dependencies import ApiKeyMiddleware
from rma.api.errors import install_error_handlers
from rma.bootstrap import Runtime
from rma.domain.requests import ReturnRequest
from rma.services.group_intake import GroupedIntake
from rma.services.intake import Submitted, submit_batch

# A batch of 1000 ordinary requests is about 2 MB; anything far larger is a mistake or an attack.
MAX_BODY_BYTES: Final = 16 * 1024 * 1024

DESCRIPTION: Final = (
    "Submit return requests (idempotent per channel and upstream_request_id), follow their status, "
    "fetch return labels and decide manual reviews. Every call under /v1 needs an `X-API-Key` header."
)


def _version() -> str:
    try:
        return version("rma")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"


def grouped_intake(runtime: Runtime) -> GroupedIntake:
    """Single submissions stored in groups (see `rma.services.group_intake`), each request as of its group's time."""

    def store(requests: Sequence[ReturnRequest]) -> list[Submitted]:
        ctx = runtime.ctx
        return submit_batch(ctx.uow, requests, now=ctx.clock.now(), due_at=ctx.machine_deadline())

    return GroupedIntake(store)


def create_api(runtime: Runtime, *, api_keys: frozenset[str]) -> FastAPI:
    """The ASGI app serving `runtime`; `api_keys` are the accepted values of the `X-API-Key` header."""
    if not api_keys or any(not key.strip() for key in api_keys):
        raise ValueError("the API needs at least one non-blank API key")
    intake = grouped_intake(runtime)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await anyio.to_thread.run_sync(intake.stop)  # answer the requests already queued before exiting

    app = FastAPI(
        title="RMA returns API",
        version=_version(),
        description=DESCRIPTION,
        max_body_size=MAX_BODY_BYTES,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.intake = intake
    app.add_middleware(ApiKeyMiddleware, api_keys=api_keys)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(routes_returns.router)
    app.include_router(routes_reviews.router)
    app.include_router(routes_carriers.router)
    return app
