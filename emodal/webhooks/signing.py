"""Standard Webhooks signatures (https://www.standardwebhooks.com) with the ``standardwebhooks`` package.

Why the library and not our own HMAC: receivers verify with the same library (or one of its ports
in other languages), so the exact signed string (``<id>.<timestamp>.<body>``), the base64 forms and
the ``v1,`` prefix stay compatible by construction.
"""
from __future__ import annotations

import base64
import secrets
from datetime import datetime, timezone

from standardwebhooks import Webhook

#: Prefix of a Standard Webhooks secret; the rest is the base64 of the HMAC key.
SECRET_PREFIX = "whsec_"
#: 24 random bytes = 192-bit HMAC key (the specification asks for 24 to 64 bytes).
SECRET_BYTES = 24


def new_secret() -> str:
    """A fresh ``whsec_<base64>`` secret, shown to the subscriber once and then stored sealed."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def signed_headers(secret: str, message_id: str, timestamp: float, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt.

    ``timestamp`` is the attempt's time, not the event's: receivers reject signatures older than a
    few minutes (replay protection), so every retry is signed anew. ``message_id`` stays the event
    id across retries so receivers can de-duplicate.
    """
    moment = datetime.fromtimestamp(int(timestamp), tz=timezone.utc)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": Webhook(secret).sign(message_id, moment, body),
    }
