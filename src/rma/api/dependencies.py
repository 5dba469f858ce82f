"""Request-scoped access to the runtime, and the API key check.

The key is checked in an ASGI middleware rather than a route dependency: FastAPI parses and validates a body before
running dependencies, so a dependency would answer an anonymous caller with our validation messages instead of 401.
The `APIKeyHeader` below only documents the header in the OpenAPI schema.
"""

from __future__ import annotations

import hmac
import re
from typing import Annotated, Final, cast

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from rma.api.errors import error_response
from rma.bootstrap import Runtime
from rma.services.group_intake import GroupedIntake

API_KEY_HEADER: Final = "X-API-Key"
WEBHOOK_PATH: Final = re.compile(r"/v1/carriers/[^/]+/webhook")
PROTECTED_PREFIX: Final = "/v1/"

api_key_doc = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="one of the configured API keys")


# Async, although they do no I/O: FastAPI runs a plain function dependency in its thread pool, a hop per request.
async def get_runtime(request: Request) -> Runtime:
    return cast("Runtime", request.app.state.runtime)


async def get_intake(request: Request) -> GroupedIntake:
    return cast("GroupedIntake", request.app.state.intake)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
IntakeDep = Annotated[GroupedIntake, Depends(get_intake)]


class ApiKeyMiddleware:
    """Answers 401 to any request under /v1/ without a valid `X-API-Key`; health checks and docs stay open, and so do
    carrier webhooks (a carrier cannot send our keys: each event is verified by its HMAC signature instead)."""

    def __init__(self, app: ASGIApp, *, api_keys: frozenset[str]) -> None:
        self.app = app
        self._keys = [key.encode() for key in api_keys]

    def _valid(self, presented: str | None) -> bool:
        if not presented:
            return False
        candidate = presented.encode()
        # Compare against every key, in constant time each, so timing reveals neither a key nor which one matched.
        return sum(hmac.compare_digest(candidate, key) for key in self._keys) > 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and path.startswith(PROTECTED_PREFIX) and not WEBHOOK_PATH.fullmatch(path):
            presented = Headers(scope=scope).get(API_KEY_HEADER)
            if not self._valid(presented):
                message = f"missing {API_KEY_HEADER} header" if not presented else f"invalid {API_KEY_HEADER}"
                response = error_response(401, message)
                response.headers["WWW-Authenticate"] = f'ApiKey header="{API_KEY_HEADER}"'
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
