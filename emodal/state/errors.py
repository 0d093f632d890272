"""Errors of the state store: one base so a caller can catch broadly or precisely.

They are infrastructure errors, not HTTP answers, so they are not ``emodal.errors.ApiError``
subclasses: at start-up the caller refuses to start with the message (no crash loop); inside a
request an uncaught one ends as the generic 500 ``internal_error`` (its text, which names server
paths, is logged, not sent). Messages never contain a secret or a record value.
"""
from __future__ import annotations


class StateError(Exception):
    """Base of every state-store failure."""


class VersionConflict(StateError):
    """A compare-and-set lost: the record's version is not the one the caller expected.

    ``actual`` is ``None`` when the record does not exist (or has expired).
    """

    def __init__(self, namespace: str, key: str, expected: int, actual: int | None) -> None:
        self.namespace, self.key, self.expected, self.actual = namespace, key, expected, actual
        super().__init__(f"version conflict on {namespace}/{key}: expected {expected}, found {actual}")


class StateLocked(StateError):
    """Another process holds this state (two service processes on one STATE_DIR)."""


class StateCorrupt(StateError):
    """The database or key file is not what it should be; the message names the file."""


class StateWriteError(StateError):
    """A write failed for an outside reason (disk full, I/O error, database busy too long).

    Nothing of the failed write was committed; what was committed before is intact.
    """


class UndecryptableSecret(StateError):
    """Sealed data cannot be opened: wrong STATE_ENCRYPTION_KEY, or the data was altered.

    There is never a plaintext fallback: the caller drops what it cannot open.
    """
