"""Signing as the Standard Webhooks spec asks (https://www.standardwebhooks.com/).

The signature is HMAC-SHA256 over ``<webhook-id>.<webhook-timestamp>.<body>`` with the
secret's key bytes, in base64 after the version ``v1,``. Receivers verify it with any
Standard Webhooks library (the tests use the reference ``standardwebhooks``).
"""

import base64
import hashlib
import hmac


def webhook_headers(secret: bytes, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers that sign ``body``, sent as ``webhook_id`` at ``timestamp``."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret, signed, hashlib.sha256).digest()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{base64.b64encode(digest).decode()}",
    }
