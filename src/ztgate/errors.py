"""One error hierarchy for the whole package.

Every failure ztgate raises derives from :class:`ZtgateError`, so callers can catch one
type, and the CLI maps the families to exit codes in one place. Messages follow one
convention: they start lowercase, have no final period and put user input in backticks.
``diagnostics()`` returns the long, operator-facing explanation; ``str(error)`` is the
short form that is safe to show to a caller.
"""

from __future__ import annotations

from dataclasses import dataclass


class ZtgateError(Exception):
    """Base class of every error ztgate raises on purpose."""

    def diagnostics(self) -> str:
        """Operator-facing detail; by default the message itself."""
        return str(self)


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where in a source file a problem sits (1-based line and column)."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.file
        if self.column is None:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input document, with its location and a document path."""

    message: str
    location: SourceLocation
    path: str = ""

    def __str__(self) -> str:
        where = f" (at `{self.path}`)" if self.path else ""
        return f"{self.location}: {self.message}{where}"


class InvalidInputError(ZtgateError):
    """A document (policy, config, test cases) failed strict loading.

    Holds every problem found, not only the first, so an operator fixes a file in one pass.
    """

    def __init__(self, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("InvalidInputError needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"{first}{more}")

    def diagnostics(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class PolicyError(InvalidInputError):
    """A policy document is invalid: unknown keys, operators, types, or broken references."""


class ConfigError(InvalidInputError):
    """A configuration document is invalid."""


class EvaluationError(ZtgateError):
    """Evaluation could not complete. The engine turns this into a deny; it never escapes
    ``authorize``."""


class UsageError(ZtgateError):
    """The caller used an API or command wrongly (bad arguments, missing options)."""


class StoreError(ZtgateError):
    """A persistent store could not be reached or refused an operation.

    Decisions that need the store deny when they see this.
    """


class IdentityError(ZtgateError):
    """Authentication or token processing failed.

    One type for every failure so that callers get no oracle; the reason goes to the
    audit log only.
    """


class AuditError(ZtgateError):
    """The audit log could not be written or failed verification."""


class IntegrityError(AuditError):
    """Verification found tampering or truncation."""


class CanonicalizationError(ZtgateError):
    """Input cannot be put in canonical form; every caller treats this as a failed check.

    Raised by :mod:`ztgate.core.canon` for paths, URLs, e-mail addresses and strings that
    are malformed, ambiguous or hostile (invisible characters, traversal that cannot be
    resolved, overlong input). Policy evaluation turns it into a deny and scanners into a
    finding: an input that cannot be read one way only is never allowed.

    ``reason`` is a short machine code (``"invisible_char"``, ``"relative_path"`` ...) for
    the audit log; the message quotes at most about 80 characters of the input.
    """

    def __init__(self, message: str, *, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


class RejectedError(IdentityError):
    """A token, assertion or token request was refused.

    ``reason`` is a stable machine code (``expired``, ``alg_not_allowed``,
    ``condition_failed:source_cidr``...) and ``detail`` a sentence; both are for the audit
    log. ``str()`` is the generic text a caller may see, identical for every reason so that
    a refusal is no oracle.
    """

    def __init__(self, reason: str, detail: str = "", *, public: str = "invalid token") -> None:
        super().__init__(public)
        self.reason = reason
        self.detail = detail

    def diagnostics(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason
