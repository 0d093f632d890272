"""Secrets at rest: the key (``STATE_ENCRYPTION_KEY`` or ``STATE_DIR/state.key``) and the box that
seals record fields with it.

Why Fernet: AES-128-CBC + HMAC-SHA256 from the ``cryptography`` package, authenticated (a wrong key
and altered data are both detected, never decrypted into garbage), versioned tokens, and
``MultiFernet`` for rotation: a key setting may list several keys, comma-separated, newest first;
the first encrypts, any of them decrypts, so ``new,old`` reads records from before and after a
rotation.

The key lives apart from the database on purpose: a copy of ``state.db`` alone reveals no secret.
When ``STATE_ENCRYPTION_KEY`` is unset a key is generated once into ``state.key`` (mode 0600) and
the caller warns at start-up that secrets are then only as safe as that directory.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from emodal.config import ConfigError
from emodal.state.errors import StateCorrupt, UndecryptableSecret

KEY_FILE = "state.key"


def new_key() -> str:
    """A fresh random Fernet key (url-safe base64 of 32 bytes)."""
    return Fernet.generate_key().decode("ascii")


class SecretBox:
    """Seals a dict of secrets into one opaque string and opens it again.

    ``key`` is one Fernet key or several, comma-separated, newest first. ``repr`` never shows them.
    """

    def __init__(self, key: str) -> None:
        self._fernet = MultiFernet([Fernet(part.strip().encode("ascii")) for part in _parts(key)])

    def seal(self, secrets: dict[str, Any]) -> str:
        if not isinstance(secrets, dict):
            raise TypeError("only a dict can be sealed")
        return self._fernet.encrypt(json.dumps(secrets, separators=(",", ":")).encode("utf-8")).decode("ascii")

    def open(self, token: str) -> dict[str, Any]:
        try:
            data = json.loads(self._fernet.decrypt(token.encode("ascii")))
        except (InvalidToken, UnicodeError, ValueError, AttributeError):
            raise UndecryptableSecret("sealed data cannot be decrypted: wrong STATE_ENCRYPTION_KEY "
                                      "or altered data") from None
        if not isinstance(data, dict):
            raise UndecryptableSecret("sealed data is not a sealed dict")
        return data

    def __repr__(self) -> str:
        return "SecretBox(<hidden>)"


def load_or_create_key(env_value: str | None, state_dir: str | os.PathLike[str]) -> tuple[str, bool]:
    """The encryption key, and whether it was generated just now (the caller then warns).

    Order: ``env_value`` (``STATE_ENCRYPTION_KEY``) if set; else ``state_dir/state.key``; else a
    new key written there with mode 0600. A malformed key stops start-up with a message that
    names the variable or the file, never the key itself.
    """
    if env_value is not None and env_value.strip():
        if not _valid(env_value):
            raise ConfigError("STATE_ENCRYPTION_KEY must be a Fernet key (url-safe base64 of 32 bytes), "
                              "or several comma-separated, newest first")
        return env_value.strip(), False
    path = Path(state_dir) / KEY_FILE
    if not path.exists():
        try:
            write_key_file(path, new_key(), exclusive=True)
            return read_key_file(path), True
        except FileExistsError:
            pass  # another process created it between the check and the write: use theirs
    return read_key_file(path), False


def read_key_file(path: Path) -> str:
    value = path.read_text(encoding="ascii", errors="replace").strip()
    if not _valid(value):
        raise StateCorrupt(f"{path} does not hold a valid encryption key; restore it from a backup "
                           "(without it the stored secrets cannot be read)")
    return value


def write_key_file(path: Path, key: str, *, exclusive: bool = False) -> None:
    """Write ``key`` with mode 0600: created exclusively, or replaced atomically (temp + rename)
    so a crash never leaves a half-written key."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = path if exclusive else path.with_name(path.name + ".tmp")
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(target, flags, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key + "\n")
        out.flush()
        os.fsync(out.fileno())
    if not exclusive:
        os.replace(target, path)


def _parts(key: str) -> list[str]:
    return [part.strip() for part in key.split(",") if part.strip()]


def _valid(key: str) -> bool:
    try:
        SecretBox(key)
    except (ValueError, UnicodeError):
        return False
    return True
