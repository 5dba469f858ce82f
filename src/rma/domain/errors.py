"""Domain errors. Each names what went wrong in words a support agent can act on."""

from __future__ import annotations


class DomainError(Exception):
    """Base class of every error the domain raises on purpose."""


class InvalidTransitionError(DomainError):
    """A status change that the lifecycle transition table does not allow."""

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"a return in status {current!r} cannot move to {target!r}")
        self.current = current
        self.target = target


class InvalidRmaNumberError(DomainError):
    """An RMA number that is malformed or fails its check character."""


class PolicyError(DomainError):
    """A policy file or policy book that cannot be used."""


class MoneyError(DomainError):
    """Arithmetic across currencies, or a negative amount where none is allowed."""


class ConcurrentUpdateError(DomainError):
    """Another writer changed the same return after it was loaded; reload and retry."""


class DuplicateRequestError(DomainError):
    """A return with the same (channel, upstream request id) already exists."""
