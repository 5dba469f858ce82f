"""Liveness and readiness, open without an API key so that load balancers and orchestrators can probe them.

Liveness never touches the database (a database outage must not get the API restarted in a loop); readiness does,
so traffic goes elsewhere while the database is unreachable.
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.exc import SQLAlchemyError

from rma.api.dependencies import RuntimeDep
from rma.api.errors import DATABASE_UNAVAILABLE, RETRY_AFTER_SECONDS, ApiError
from rma.api.schemas import ErrorBody, Health
from rma.logging import get_logger

log = get_logger(__name__)

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> Health:
    """The process is up and answering."""
    return Health(status="ok")


@router.get("/readyz", responses={503: {"model": ErrorBody, "description": "the database is unreachable"}})
def readyz(runtime: RuntimeDep) -> Health:
    """The database answers `SELECT 1`."""
    try:
        runtime.queries.ping()
    except SQLAlchemyError as exc:
        log.warning("readiness_failed", error=exc.__class__.__name__)
        raise ApiError(503, DATABASE_UNAVAILABLE, retry_after=RETRY_AFTER_SECONDS) from None
    return Health(status="ready")
