"""The one exception type for mistakes a user can fix (bad config, missing file)."""


class UserError(Exception):
    """Raised with a one-line message naming the file or key and what to do.

    ``tools/train.py`` and ``tools/test.py`` print it as a single ``error:`` line
    instead of a stack trace.
    """
