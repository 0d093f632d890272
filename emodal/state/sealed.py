"""Records with secrets in them: how sealed fields are marked, key rotation, the persistent secret.

Convention: a record keeps every secret of its own (password, captcha key, cookies, storage) in
one dict sealed by a ``SecretBox`` under the single top-level key ``"sealed"``; everything else in
the record is clear metadata (state, times, counts) that ``/sessions`` and ``/health`` may read
without the key. One marker per record means rotation needs no knowledge of any record's layout.
"""
from __future__ import annotations

import secrets

from emodal.state.crypto import SecretBox
from emodal.state.store import StateStore

#: The one key of a record value that holds sealed data.
SEALED = "sealed"
#: Namespace of service-wide secrets (``persistent_secret``).
SECRETS_NAMESPACE = "secrets"
#: Namespace of session records (``emodal.sessions.journal``): credentials and portal snapshot sealed.
SESSIONS_NAMESPACE = "sessions"
#: Every namespace holding sealed fields; ``rotate-key`` rotates exactly these. A namespace that
#: starts storing secrets must be added here. ``webhooks``: the subscriptions' signing secrets
#: (emodal/webhooks/subscriptions.py); ``jobs``, ``job_rows``, ``schedules``: a job's input (session
#: id, credentials, params) and its result rows (emodal/jobs/store.py, schedules.py).
SEALED_NAMESPACES: tuple[str, ...] = (SECRETS_NAMESPACE, SESSIONS_NAMESPACE, "webhooks", "jobs", "job_rows", "schedules",
                                      "watches")


def persistent_secret(store: StateStore, box: SecretBox, name: str) -> str:
    """The secret stored as ``name``, generated and stored (sealed) on first use.

    Why: ``SESSION_SECRET`` keys the credential lookup; a random one per start would make the same
    credentials map to another session after every restart. Two processes racing on the first
    start both end up with the one that ``put_if_absent`` let in. ``UndecryptableSecret`` (wrong
    key) propagates: the caller decides (drop the record and call again for a new secret).
    """
    while True:
        record = store.get(SECRETS_NAMESPACE, name)
        if record is not None:
            return str(box.open(record.value[SEALED])["value"])
        candidate = secrets.token_urlsafe(32)
        if store.put_if_absent(SECRETS_NAMESPACE, name, {SEALED: box.seal({"value": candidate})}):
            return candidate


def rotate_key(store: StateStore, old_box: SecretBox, new_box: SecretBox,
               namespaces: tuple[str, ...] = SEALED_NAMESPACES) -> int:
    """Re-seal every sealed field of ``namespaces`` from ``old_box`` to ``new_box``; returns the
    number of records rewritten.

    Everything is opened first, so a wrong old key fails with ``UndecryptableSecret`` before any
    write. Each rewrite is a compare-and-set that keeps the record's expiry: run it with the
    service stopped (the SQLite store's process lock enforces that).
    """
    pending = [(record, old_box.open(record.value[SEALED]))
               for namespace in namespaces for record in store.scan(namespace) if SEALED in record.value]
    for record, opened in pending:
        store.put(record.namespace, record.key, {**record.value, SEALED: new_box.seal(opened)},
                  expect_version=record.version, expires_at=record.expires_at)
    return len(pending)
