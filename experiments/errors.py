"""Domain errors of the experiments package.

Services raise these; the web layer maps each class to one HTTP status in a single handler and
the CLI prints them. They carry a machine-readable ``code``, a human message and, where one
input field is at fault, its dotted path (``units.0.variants.1``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldIssue:
    """One problem with one input field (dotted path, empty for the whole document).

    ``code`` (pydantic's error type, or a rule of this package) and ``params`` let the marketer
    pages word the problem in the visitor's language; ``message`` is the English text of the
    API and the CLI.
    """

    field: str
    message: str
    code: str = ""
    params: Mapping[str, Any] = field(default_factory=dict, compare=False)


class DomainError(Exception):
    """Base class: a request the domain refuses, never a bug."""

    code = "error"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """Input that is well-formed JSON but breaks a rule (schema, catalogue, cross-field)."""

    code = "invalid"

    def __init__(self, issues: list[FieldIssue]) -> None:
        first = issues[0]
        super().__init__(first.message, first.field or None)
        self.issues = issues


class NotFound(DomainError):
    """The named experiment, key or record does not exist."""

    code = "not_found"


class Conflict(DomainError):
    """The request clashes with the current state (illegal transition, layer overlap...)."""

    code = "conflict"


class StaleVersion(DomainError):
    """The writer saw an older version than the stored one: someone else changed it since."""

    code = "precondition_failed"


class IllegalTransition(Conflict):
    """A lifecycle move the status machine does not allow."""

    code = "illegal_transition"


class ExperimentServing(Conflict):
    """Archive or delete asked of an experiment that still serves arms to shoppers."""

    code = "experiment_serving"


class ExperimentArchived(Conflict):
    """A lifecycle move asked of an archived experiment (unarchive it first)."""

    code = "experiment_archived"


class NotAllocatable(Conflict):
    """Allocation asked of an experiment that is not a running Thompson-sampling experiment."""

    code = "not_allocatable"


class LayerOverlap(Conflict):
    """Two experiments of one layer would claim the same slice of traffic."""

    code = "layer_overlap"


class Unauthenticated(DomainError):
    """Missing, unknown or revoked API key."""

    code = "unauthenticated"


class Forbidden(DomainError):
    """A valid API key whose scope does not cover the request."""

    code = "forbidden"


class Throttled(DomainError):
    """Too many recent failed sign-ins for the account or the client's network: wait first."""

    code = "too_many_attempts"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
