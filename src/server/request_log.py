"""Request ids, the client's address and the access log.

Every response carries ``X-Request-Id``; ``client_address`` is the address the trusted
proxies vouch for, as the access log shows it (nginx finds it for its per-client bound
itself: ``server.transport.nginx_config``).
"""

import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Iterable

from flask import Flask, Response, g, request
from werkzeug.exceptions import BadRequest

from server.bound_backends import current_settings

REQUEST_ID_HEADER = "X-Request-Id"
# A client-sent id is echoed only if it is short and plain, so it cannot forge log lines
# (nginx applies the same rule: server.transport.nginx_config).
CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

# nginx, in front of gunicorn everywhere, appends the address it was reached from to
# X-Forwarded-For: one trusted hop more than SHARER_FORWARDED_HOPS counts.
NGINX_HOPS = 1

access_log = logging.getLogger("sharer.access")


def request_id() -> str:
    """The current request's id (the client's if it sent a usable one)."""
    return str(g.get("request_id", "-"))


def usable_request_id(sent: str | None) -> str:
    """``sent`` (a client's ``X-Request-Id``) if it is short and plain, else a new id."""
    return sent if sent is not None and CLIENT_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex


def init_request_log(app: Flask) -> None:
    """Assign request ids, echo them, and write one access line per request."""

    @app.before_request
    def _start() -> None:
        g.request_id = usable_request_id(request.headers.get(REQUEST_ID_HEADER))
        g.started = time.perf_counter()
        # RFC 9112, section 3.2: a server must answer 400 to an HTTP/1.1 request without
        # Host (Werkzeug would fill one in from the bind address).
        if request.environ.get("SERVER_PROTOCOL") == "HTTP/1.1" and "HTTP_HOST" not in (
            request.environ
        ):
            raise BadRequest("an HTTP/1.1 request must carry a Host header")

    @app.after_request
    def _finish(response: Response) -> Response:
        # before_request may not have run (e.g. a routing error raised first).
        rid = g.get("request_id") or uuid.uuid4().hex
        response.headers[REQUEST_ID_HEADER] = rid
        started = g.get("started", time.perf_counter())
        access_log.info(
            "request",
            extra={
                "request_id": rid,
                "client": current_client_address(),
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                # The uploader an API key names (server.upload_quotas), if it sent one.
                **({"api_key": g.api_key_name} if g.get("api_key_name") else {}),
            },
        )
        return response


def current_client_address() -> str:
    """The current request's client address, as the trusted proxies vouch for it."""
    return client_address(
        request.remote_addr or "-",
        request.headers.getlist("X-Forwarded-For"),
        current_settings().forwarded_hops + NGINX_HOPS,
    )


def client_address(peer: str, forwarded_for: Iterable[str], hops: int) -> str:
    """The client's address: ``peer`` itself, or the one ``hops`` proxies vouch for.

    Each trusted proxy appends the address it was reached from to ``X-Forwarded-For``
    (CloudFront then the load balancer on AWS: ``hops`` 2), so the client is the
    ``hops``-th entry from the right; what lies further left, the client wrote itself. A
    request carrying fewer entries did not come through every proxy, so its ``peer`` is
    all we know of it.

    The entry is logged and counted only if it is an IP address: one that is not (a
    proxy misconfigured, or a header our proxies passed on unchecked) gives way to the
    nearest trusted address to its right, the proxy that wrote it, else ``peer``.
    """
    if hops == 0:
        return peer
    entries = [entry.strip() for value in forwarded_for for entry in value.split(",")]
    entries = [entry for entry in entries if entry]
    if len(entries) < hops:
        return peer
    return next((entry for entry in entries[-hops:] if _is_ip_address(entry)), peer)


def _is_ip_address(text: str) -> bool:
    """An IPv4 or IPv6 address, without an IPv6 zone (free text after a ``%``)."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return not isinstance(address, ipaddress.IPv6Address) or address.scope_id is None
