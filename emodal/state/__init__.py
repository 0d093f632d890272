"""Durable state of the service (issue 10): the one package that talks to a database.

``open_store(settings.state_url, settings.state_dir)`` gives a ``StateStore`` (records with
compare-and-set, leases); ``crypto`` seals secrets kept in records; ``sealed`` holds the
conventions for such records (rotation, the persistent session secret). See
docs/ARCHITECTURE.md, "State store".
"""
from __future__ import annotations

import os
from pathlib import Path

from emodal.config import ConfigError
from emodal.state.crypto import SecretBox, load_or_create_key, new_key
from emodal.state.errors import (StateCorrupt, StateError, StateLocked, StateWriteError, UndecryptableSecret,
                                 VersionConflict)
from emodal.state.sealed import SEALED, SEALED_NAMESPACES, persistent_secret, rotate_key
from emodal.state.redis_store import RedisStore
from emodal.state.sqlite import SQLiteStore
from emodal.state.store import Record, StateStore

__all__ = [
    "SEALED", "SEALED_NAMESPACES", "ConfigError", "Record", "RedisStore", "SQLiteStore", "SecretBox", "StateCorrupt",
    "StateError", "StateLocked", "StateStore", "StateWriteError", "UndecryptableSecret", "VersionConflict",
    "load_or_create_key", "new_key", "open_store", "persistent_secret", "rotate_key", "sqlite_path",
]

_SQLITE = "sqlite:///"


def sqlite_path(state_url: str | None, state_dir: str | os.PathLike[str]) -> Path:
    """The database file a ``sqlite:///`` URL names (default ``<state_dir>/state.db``).

    As in SQLAlchemy, everything after ``sqlite:///`` is the path: ``sqlite:///state.db`` is
    relative, ``sqlite:////var/lib/emodal/state.db`` absolute.
    """
    if state_url is None or not state_url.strip():
        return Path(state_dir) / "state.db"
    url = state_url.strip()
    path = url[len(_SQLITE):] if url.startswith(_SQLITE) else ""
    if not path or "?" in path or path == ":memory:":
        raise ConfigError("STATE_URL: a sqlite URL is sqlite:///<path to the database file> "
                          "(no in-memory database: the state must outlive the process)")
    return Path(path)


def open_store(state_url: str | None, state_dir: str | os.PathLike[str]) -> StateStore:
    """The store ``STATE_URL`` selects; unset means SQLite in ``state_dir``, ``redis://host:port/db``
    (or ``rediss://``) the shared Redis store of a cluster (docs/DEPLOYMENT.md).

    Raises ``ConfigError`` for a URL this build cannot serve, and the ``StateError`` classes of
    the backend (``StateLocked``, ``StateCorrupt``) when the store cannot be opened.
    """
    url = (state_url or _SQLITE).strip()
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        return SQLiteStore(sqlite_path(state_url, state_dir))
    if scheme in ("redis", "rediss"):
        return RedisStore(url)
    raise ConfigError(f"STATE_URL: unknown scheme {scheme!r} (use sqlite:///<path> or redis://host:port/db)")
