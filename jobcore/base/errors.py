"""The one exception type the CLI turns into a one-line message and an exit code."""

from __future__ import annotations


class JobcoreError(Exception):
    """A failure a user can act on: printed as one line, never as a traceback.

    ``exit_code`` follows the CLI convention: 2 for usage errors, 1 for everything else.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(JobcoreError):
    """Input the user typed that cannot mean anything (exit code 2, like argparse)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=2)


class Pause(Exception):
    """Raised by a batch function (or signalled by exit code 75) to pause the whole job.

    ``retry_after`` (seconds) makes the job resume by itself then, e.g. after a rate limit.
    """

    def __init__(self, reason: str = "paused by the job", retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[type[Pause], tuple[str, float | None]]:
        # Crosses process boundaries (process pools) intact.
        return (Pause, (self.reason, self.retry_after))


class StoreUnavailable(JobcoreError):
    """The state database cannot be written right now: locked by another process, busy, or
    its disk full. It passes: a worker waits it out (``jobcore.state.patience``), a command
    says so."""
