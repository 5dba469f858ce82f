"""Errors a stage raises on purpose. The worker layer decides: retry (transient) or park the return (permanent)."""

from __future__ import annotations

from rma.domain.errors import DomainError


class ReturnNotFoundError(DomainError):
    """No return with that id."""


class PermanentStageError(DomainError):
    """Retrying cannot help: the return needs a person (it goes to needs_attention with this cause)."""
