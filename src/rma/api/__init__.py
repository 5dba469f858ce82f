"""The HTTP intake and status API (FastAPI): build it with `create_api(runtime, api_keys=...)`."""

from rma.api.app import create_api

__all__ = ["create_api"]
