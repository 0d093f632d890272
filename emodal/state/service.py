"""The service's state at start-up: the store, the box that seals its secrets, and SESSION_SECRET.

Why one function: ``create_app`` must open the store exactly once, before anything that uses it
(the browser ledger, the idempotency records, the registry restoring sessions), and the order of
the steps matters: the store (which takes the process lock, so a second service on the same
``STATE_DIR`` stops here), then the key (generated once, with a warning like the open-mode one),
then the credential-lookup secret. A failure after the store was opened closes it again, so the
entry point can exit cleanly with the message.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emodal.state import open_store
from emodal.state.crypto import KEY_FILE, SecretBox, load_or_create_key
from emodal.state.errors import UndecryptableSecret
from emodal.state.sealed import SECRETS_NAMESPACE, persistent_secret
from emodal.state.store import StateStore

log = logging.getLogger("emodal.state")

#: Name of the stored credential-lookup secret (``SESSION_SECRET`` unset).
SESSION_SECRET_NAME = "session_secret"

KEY_GENERATED_LOG = ("STATE_ENCRYPTION_KEY is not set: generated an encryption key in %s. Stored session "
                     "credentials and portal cookies are only as safe as that file; set STATE_ENCRYPTION_KEY "
                     "(a Fernet key) and keep it apart from the state directory.")


@dataclass(frozen=True)
class ServiceState:
    """What ``create_app`` hands to the parts that keep durable state."""

    store: StateStore
    box: SecretBox


def open_service_state(settings: Any) -> tuple[ServiceState, Any]:
    """Open the store and the key; return them with ``settings`` whose ``session_secret`` is set.

    Raises ``StateLocked`` / ``StateCorrupt`` / ``StateWriteError`` (the store cannot be opened)
    and ``ConfigError`` (a malformed key); the entry point turns them into one message and exit 1.
    """
    store = open_store(settings.state_url, settings.state_dir)
    try:
        key, generated = load_or_create_key(settings.state_encryption_key, settings.state_dir)
        if generated:
            log.warning(KEY_GENERATED_LOG, Path(settings.state_dir) / KEY_FILE)
        box = SecretBox(key)
        if settings.session_secret is None:
            secret = _session_secret(store, box)
            settings = settings.model_copy(update={"session_secret": secret.encode("utf-8")})
    except BaseException:
        store.close()
        raise
    return ServiceState(store, box), settings


def _session_secret(store: StateStore, box: SecretBox) -> str:
    """The kept SESSION_SECRET; a stored one the key cannot open is replaced (with a warning).

    A new secret only means stored lookup keys and idempotency prints no longer match: the
    sessions sealed under the old key are dropped anyway, and old idempotency records are
    never replayed across secrets (their ``key_id`` differs)."""
    try:
        return persistent_secret(store, box, SESSION_SECRET_NAME)
    except UndecryptableSecret:
        log.warning("the stored SESSION_SECRET cannot be decrypted with this STATE_ENCRYPTION_KEY; "
                    "a new one was generated (earlier idempotency records will not be replayed)")
        store.delete(SECRETS_NAMESPACE, SESSION_SECRET_NAME)
        return persistent_secret(store, box, SESSION_SECRET_NAME)
