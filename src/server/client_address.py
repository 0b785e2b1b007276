"""The address a request comes from, through the proxies we are told to trust."""

from collections.abc import Iterable


def client_address(peer: str, forwarded_for: Iterable[str], hops: int) -> str:
    """The client's address: ``peer`` itself, or the one ``hops`` proxies vouch for.

    Each trusted proxy appends the address it was reached from to ``X-Forwarded-For``
    (CloudFront then the load balancer on AWS: ``hops`` 2), so the client is the
    ``hops``-th entry from the right; what lies further left, the client wrote itself. A
    request carrying fewer entries did not come through every proxy, so its ``peer`` is
    all we know of it.
    """
    if hops == 0:
        return peer
    entries = [entry.strip() for value in forwarded_for for entry in value.split(",")]
    entries = [entry for entry in entries if entry]
    return entries[-hops] if len(entries) >= hops else peer
