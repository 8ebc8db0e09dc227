"""User-facing errors: one line, non-zero exit, never a traceback (see cli.main)."""


class DqhwError(Exception):
    """An error caused by the user's input or environment, printed as one line by the CLI."""

    exit_code = 2


class MismatchError(DqhwError):
    """RTL (or another model in the verification chain) disagrees with the golden model."""

    exit_code = 3
