"""Image ids: 128 random bits as URL-safe text, so an image URL is a capability.

Standard library only: the CLI, a plain HTTP client, checks a server's ids with it.
"""

import re
import secrets

_ID_BYTES = 16
# base64url of 16 bytes without padding is always 22 characters.
IMAGE_ID_PATTERN = "[A-Za-z0-9_-]{22}"
_ID_PATTERN = re.compile(IMAGE_ID_PATTERN)


def new_image_id() -> str:
    """Return a fresh unguessable id; collisions need about 2**64 uploads."""
    return secrets.token_urlsafe(_ID_BYTES)


def is_image_id(text: str) -> bool:
    """Tell whether ``text`` has the shape of an id we issue (safe to put in a key)."""
    return _ID_PATTERN.fullmatch(text) is not None
