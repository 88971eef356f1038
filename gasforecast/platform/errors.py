"""The two kinds of failure every event handler must tell apart.

A permanent error cannot be fixed by retrying (bad file, malformed message): it is logged and the
event acknowledged. A transient error (a dependency unreachable) is raised so the platform redelivers.
"""


class PermanentError(Exception):
    """Retrying the same event cannot succeed."""


class TransientError(Exception):
    """A dependency failed; the same event may succeed later."""
