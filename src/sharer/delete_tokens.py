"""Delete tokens: handed out once with the 202, kept by the service only as a SHA-256.

A token is 256 random bits as URL-safe text. Whoever holds it may delete the image; the
stored digest cannot be turned back into a token, so a leaked status record, message or
backup deletes nothing.
"""

import hashlib
import hmac
import secrets

_TOKEN_BYTES = 32


def new_delete_token() -> str:
    """A fresh token (43 URL-safe characters), never starting with "-"."""
    # A token starting with "-" reads as an option to a command line's parser
    # (`sharer delete URL --token -x...` is refused by argparse); drawing again costs
    # less than a bit of the 256.
    while (token := secrets.token_urlsafe(_TOKEN_BYTES)).startswith("-"):
        pass
    return token


def token_digest(token: str) -> str:
    """The SHA-256 of ``token`` in hex: what the status record keeps."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, digest: str) -> bool:
    """Whether ``token`` is the one whose digest is ``digest``, compared in constant time
    (the comparison's duration says nothing about how much of the digest matched)."""
    return hmac.compare_digest(token_digest(token), digest)
