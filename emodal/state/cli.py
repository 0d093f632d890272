"""``python emodal_business_api.py rotate-key``: re-encrypt every stored secret under a new key.

Run it with the service stopped: it opens the store like the service does, so a running service's
process lock makes it refuse (``StateLocked``) instead of rewriting records under it.

Key file (``STATE_ENCRYPTION_KEY`` unset): ``state.key`` first becomes ``new,old`` (both read),
then the records are re-sealed, then it becomes ``new``; a crash at any point leaves every record
readable. Key from the environment: the new key is printed once on stdout before anything is
rewritten; the operator puts it in ``STATE_ENCRYPTION_KEY`` (``new,old`` if the run failed midway).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from emodal.config import ConfigError, Settings
from emodal.state import open_store
from emodal.state.crypto import KEY_FILE, SecretBox, load_or_create_key, new_key, write_key_file
from emodal.state.errors import StateError
from emodal.state.sealed import rotate_key


def rotate_key_command(settings: Settings, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Exit status 0 when every sealed record was re-encrypted, 1 otherwise (message on ``err``,
    default stderr; reports on ``out``, default stdout)."""
    out, err = out or sys.stdout, err or sys.stderr
    state_dir = Path(settings.state_dir)  # type: ignore[arg-type]  # never None after Settings.__post_init__
    try:
        store = open_store(settings.state_url, state_dir)
    except (ConfigError, StateError) as exc:
        print(f"rotate-key: {exc}", file=err)
        return 1
    from_env = bool(settings.state_encryption_key and settings.state_encryption_key.strip())
    key_path = state_dir / KEY_FILE
    fresh = new_key()
    try:
        old, _ = load_or_create_key(settings.state_encryption_key, state_dir)
        if from_env:
            print(f"New STATE_ENCRYPTION_KEY (shown once, store it now): {fresh}", file=out, flush=True)
        else:
            write_key_file(key_path, f"{fresh},{old}")
        count = rotate_key(store, SecretBox(old), SecretBox(fresh))
        if not from_env:
            write_key_file(key_path, fresh)
    except (ConfigError, StateError, OSError) as exc:
        hint = " Until it succeeds, STATE_ENCRYPTION_KEY=<new>,<old> reads every record." if from_env else ""
        print(f"rotate-key: {exc}.{hint}", file=err)
        return 1
    finally:
        store.close()
    where = "STATE_ENCRYPTION_KEY must now be the key above" if from_env else f"new key in {key_path}"
    print(f"Re-encrypted {count} records; {where}.", file=out)
    return 0
