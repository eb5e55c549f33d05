"""Errors a user can act on.

Every refusal the harness makes on bad input is a `UserError`: the CLI prints its one line (what is
wrong and how to fix it) and exits 2, so scripts and CI can tell bad input from a regression (1).
`exit_status` is the one place that maps an error to its exit code and its line; anything it
does not know is a bug, and keeps its traceback.
"""

EXIT_INCOMPLETE, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130


class UserError(Exception):
    """Bad input or environment, found before (or instead of) spending anything."""

    exit_code = EXIT_BAD_INPUT


class ProviderError(UserError):
    """The provider refused in a way retrying cannot fix (wrong key, unknown model id, bad request)."""

    exit_code = EXIT_INCOMPLETE


def exit_status(exc: BaseException) -> tuple[int, str] | None:
    """(exit code, the line to print) for an error a user can act on, else None."""
    if isinstance(exc, UserError):
        return exc.exit_code, str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "interrupted; every answer received so far is in the store: run the same command again to resume"
    if isinstance(exc, OSError) and exc.strerror:  # the environment, not the harness: a path, a permission, a port
        where = f" ({exc.filename})" if exc.filename else ""
        return EXIT_BAD_INPUT, f"{exc.strerror}{where}; check the path or permission named, or rerun with --debug for the details"
    return None
