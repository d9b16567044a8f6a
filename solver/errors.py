"""Exceptions that the CLI turns into one-line messages and non-zero exit codes."""


class SolverError(Exception):
    """Base class: anything the user can cause or act upon. Message is one line."""

    exit_code = 1


class CaseError(SolverError):
    """Invalid case file or override: names the key path and the fix."""

    exit_code = 2


class GeometryError(CaseError):
    """A geometry that cannot be built (overlapping layers, bumps out of the domain...)."""


class ConvergenceError(SolverError):
    """A nonlinear or linear solve failed and could not be recovered."""

    exit_code = 3

    def __init__(self, message: str, field: str = "", reason: int | None = None,
                 recoverable: bool = True):
        super().__init__(message)
        self.field = field
        self.reason = reason
        # False when a smaller step cannot help (a linear problem's singular matrix)
        self.recoverable = recoverable
