"""Domain errors. Each names what went wrong in words a support agent can act on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


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


@dataclass(frozen=True, slots=True)
class KeyReuse:
    """One request whose (channel, upstream request id) had been used before for a request with a different body."""

    index: int
    """Its position among the requests submitted together (0 for a single request)."""
    channel: str
    upstream_request_id: str
    differing: tuple[str, ...]
    """The top-level fields in which it differs from the first request (names only, never values)."""

    @property
    def reason(self) -> str:
        return (
            f"{self.upstream_request_id!r} was already used in channel {self.channel!r} for a different request "
            f"(differing in: {', '.join(self.differing)}); send that request unchanged to get its return, or this one "
            "under a new upstream_request_id"
        )


class IdempotencyKeyReusedError(DomainError):
    """An idempotency key sent again with a different request: refused, never answered with the first return.

    A repeat must be the same request (compared in canonical form, after parsing); anything else is a bug upstream
    (a reused id, or a changed request sent under the old id) that a silent answer would hide."""

    def __init__(self, reuses: Sequence[KeyReuse]) -> None:
        self.reuses = tuple(reuses)
        super().__init__("; ".join(f"upstream_request_id {reuse.reason}" for reuse in self.reuses))
