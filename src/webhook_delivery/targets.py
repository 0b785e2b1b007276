"""Where a webhook may be sent: public addresses only, unless the operator allows more.

A receiver URL that resolves to a private, loopback, link-local or otherwise non-global
address would let whoever sets the URL make this service call inside its own network;
such targets are refused unless ``SHARER_WEBHOOK_ALLOW_PRIVATE=1``. The name is resolved
again before every attempt, so a DNS answer that changes is checked each time.
"""

import ipaddress
import socket
from urllib.parse import urlsplit


class TargetRefused(RuntimeError):
    """The receiver's address is not one we send to; the message says which."""


def check_target(url: str, *, allow_private: bool) -> None:
    """Raise ``TargetRefused`` unless every address ``url``'s host resolves to is global
    (or ``allow_private``); ``OSError`` if the name does not resolve."""
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for *_, address in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP):
        ip = ipaddress.ip_address(address[0])
        if not ip.is_global:
            raise TargetRefused(
                f"{host} resolves to {ip}, a private, loopback or link-local address "
                "(set SHARER_WEBHOOK_ALLOW_PRIVATE=1 to allow it)"
            )
