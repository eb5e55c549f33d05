"""Errors a user can act on.

Every refusal the harness makes on bad input is a `UserError`: the CLI prints its one line (what is
wrong and how to fix it) and exits 2, so scripts and CI can tell bad input from a regression (1).
"""


class UserError(Exception):
    """Bad input or environment, found before (or instead of) spending anything."""

    exit_code = 2


class ProviderError(UserError):
    """The provider refused in a way retrying cannot fix (wrong key, unknown model id, bad request)."""

    exit_code = 1
