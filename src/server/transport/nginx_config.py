"""nginx's configuration, rendered from the validated settings: the one source of it.

nginx stands in front of gunicorn everywhere the server runs (``make run``, the tests'
launcher, the AMI): it reads every request whole (headers, then the body, buffered)
before gunicorn's stock ``gthread`` worker sees it, so a slow or silent client costs an
nginx connection, never a thread. It enforces the transport's bounds itself (see
docs/security.md): the head's size, the body's size before a byte of it is read (and
before ``100 Continue``) and while it counts a chunked body, the read timeouts, and the
per-client connection cap; with API keys or quotas on, it asks the app whether an
upload's headers refuse it (401, 429) before it reads the body
(``server.upload_admission``). Every answer nginx gives itself is JSON with an
``X-Request-Id`` and ``Cache-Control: no-store``, like the application's errors, and is
logged as one JSON line.

gunicorn listens on a unix socket in ``settings.runtime_dir``, which only nginx (and the
service's own user) can reach.
"""

import grp
import json
import os
import pwd
from pathlib import Path

from server.app import max_request_bytes
from server.errors import ERROR_CACHE_CONTROL
from server.request_log import CLIENT_REQUEST_ID
from server.transport.runtime_paths import RuntimePaths
from server.upload_admission import (
    ADMISSION_PATH,
    DECLARED_LENGTH_HEADER,
    METHOD_HEADER,
    OVER_QUOTA_STATUS,
    RATE_LIMIT_FIELDS,
    REFUSAL_FIELDS,
    REFUSAL_HEADER,
    admission_enabled,
)
from sharer.settings import ServerSettings

# Connections one nginx worker process holds at most; idle and slow ones cost a few
# hundred bytes each (and their buffered body), never a thread.
CONNECTIONS_PER_NGINX_PROCESS = 8192
# Request line and each header line at most this long (longer: 414, or 431), and the
# whole head at most HEAD_BUFFERS of them.
HEAD_BUFFER_BYTES = 8 * 1024
HEAD_BUFFERS = 8
# Bodies up to this size stay in memory; larger ones (up to the limit) go to a temporary
# file under the runtime directory, so a swarm of slow uploads cannot exhaust memory.
BODY_MEMORY_BYTES = 128 * 1024
RETRY_AFTER_SECONDS = 1
# nginx's own code for a head too large for its buffers; answered 431.
NGINX_HEAD_TOO_LARGE = 494

# What each answer nginx gives itself says (the status it is given as, and the message).
NGINX_ANSWERS: dict[int, tuple[int, str]] = {
    400: (400, "the request is not well-formed HTTP/1.1"),
    NGINX_HEAD_TOO_LARGE: (431, "the request headers are too large"),
    413: (413, "the request body must be at most {max_body} bytes"),
    414: (414, "the request line is too long"),
    429: (429, "too many connections from your address at once; retry shortly"),
    500: (500, "internal server error"),
    501: (
        501,
        "that Transfer-Encoding is not supported: send the body chunked or with a length",
    ),
    502: (503, "the service is starting or restarting; retry shortly"),
    503: (503, "the service is busy; retry shortly"),
    504: (504, "the request was not answered in time"),
}

# nginx's kinds of temporary files, each given a directory under the runtime directory
# (its compiled-in ones are the system's, not writable by the service's user).
_TEMP_KINDS = ("body", "proxy", "fastcgi", "uwsgi", "scgi")
_NGINX_LOG_LEVELS = {"DEBUG": "info", "INFO": "warn", "WARNING": "warn", "ERROR": "error"}


def _listen_address(bind: str) -> str:
    """nginx's ``listen`` address for ``SHARER_BIND`` (IPv6 hosts in brackets)."""
    host, _, port = bind.rpartition(":")
    if host in ("0.0.0.0", "", "*"):  # noqa: S104 - recognised, not bound here
        return port
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def _client_pattern(hops: int) -> str:
    """A regex taking the client's address out of ``$proxy_add_x_forwarded_for``.

    nginx appends the address it was reached from, so the client is entry ``hops + 1``
    from the right (``hops`` trusted proxies appended the ones after it); an entry that
    is not an address, or too few entries, leave the connection's own address.
    """
    later_entries = r"(?:\s*,[^,]*)" + f"{{{hops}}}"
    return r"~(?:^|,)\s*(?<sharer_addr>[0-9A-Fa-f.:]+)\s*" + later_entries + "$"


def _nginx_string(text: str) -> str:
    """``text`` as a single-quoted nginx string."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _error_pages(max_body: int) -> str:
    lines = []
    for code, (status, _message) in NGINX_ANSWERS.items():
        shown = "" if status == code else f"={status} "
        lines.append(f"        error_page {code} {shown}/_sharer_error/{status};")
    done = set()
    for _code, (status, message) in NGINX_ANSWERS.items():
        if status in done:
            continue
        done.add(status)
        body = json.dumps({"error": message.format(max_body=max_body)}, separators=(",", ":"))
        retry = (
            f"            add_header Retry-After {RETRY_AFTER_SECONDS} always;\n"
            if status in (429, 503)
            else ""
        )
        lines.append(
            f"        location = /_sharer_error/{status} {{\n"
            "            internal;\n"
            "            default_type application/json;\n"
            "            add_header X-Request-Id $sharer_request_id always;\n"
            f"            add_header Cache-Control {ERROR_CACHE_CONTROL} always;\n"
            f"{retry}"
            f"            return {status} {_nginx_string(body)};\n"
            "        }"
        )
    return "\n".join(lines)


def _worker_user() -> str:
    """nginx's ``user`` line: started by root, its workers would otherwise run as
    ``nobody``, which cannot reach gunicorn's socket in the private runtime directory;
    started by anyone else (the AMI's ``sharer``, a developer), they run as that user."""
    if os.geteuid() != 0:
        return ""
    return f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};\n"


def render_nginx_config(settings: ServerSettings, paths: RuntimePaths) -> str:
    """nginx.conf for ``settings``: listening on ``settings.bind``, proxying to gunicorn
    on ``paths.gunicorn_socket``, every runtime file under ``paths.runtime_dir``."""
    max_body = max_request_bytes(settings)
    timeout = settings.request_timeout
    per_client = (
        f"        limit_conn sharer_per_client {settings.max_connections_per_client};\n"
        if settings.max_connections_per_client
        else ""
    )
    temp = {name: paths.temp_dir(name) for name in _TEMP_KINDS}
    to_gunicorn = f"""\
            proxy_pass http://unix:{paths.gunicorn_socket}:;
            proxy_http_version 1.1;
            proxy_set_header Connection close;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Request-Id $sharer_request_id;
            proxy_request_buffering on;
            proxy_buffering on;
            proxy_connect_timeout 5s;
            proxy_read_timeout {timeout}s;
            proxy_send_timeout {timeout}s;"""
    log_line = json.dumps(
        {
            "ts": "$time_iso8601",
            "level": "WARNING",
            "logger": "sharer.nginx",
            "msg": "answered by nginx",
            "request_id": "$sharer_request_id",
            "client": "$sharer_client",
            "request": "$request",
            "status": "$status",
        }
    )
    return f"""\
# Rendered by server.transport.nginx_config from the service's settings at every start: edit the
# settings (SHARER_*), not this file.
daemon off;
{_worker_user()}worker_processes {settings.server_processes};
pid {paths.pid_file};
# A graceful stop waits for the requests in flight, at most a request deadline.
worker_shutdown_timeout {timeout}s;
error_log stderr {_NGINX_LOG_LEVELS[settings.common.log_level]};

events {{
    worker_connections {CONNECTIONS_PER_NGINX_PROCESS};
}}

http {{
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    server_tokens off;
    default_type application/json;

    # The client's X-Request-Id if it is short and plain (server.request_log's rule),
    # else nginx's own; gunicorn gets the same one.
    map $http_x_request_id $sharer_request_id {{
        "~^{CLIENT_REQUEST_ID.pattern}$" $http_x_request_id;
        default $request_id;
    }}
    # The client's address: the one SHARER_FORWARDED_HOPS trusted proxies vouch for.
    map $proxy_add_x_forwarded_for $sharer_client {{
        "{_client_pattern(settings.forwarded_hops)}" $sharer_addr;
        default $remote_addr;
    }}
    # Answers nginx gives itself (the app never reached, or not answering in time): one
    # JSON line each; the app logs the rest (it never answers 502 or 504 itself).
    map $upstream_status $sharer_answered_by_nginx {{
        "" 1;
        "~(^|[ ,:])50[24]$" 1;
        default 0;
    }}
    log_format sharer_json escape=json '{log_line.replace('"$status"', "$status")}';
    access_log /dev/stderr sharer_json if=$sharer_answered_by_nginx;

    limit_conn_zone $sharer_client zone=sharer_per_client:10m;
    limit_conn_status 429;
    limit_conn_log_level warn;

    client_header_timeout {timeout}s;
    client_body_timeout {timeout}s;
    send_timeout {timeout}s;
    keepalive_timeout {settings.keepalive_seconds}s;
    client_header_buffer_size 1k;
    large_client_header_buffers {HEAD_BUFFERS} {HEAD_BUFFER_BYTES};
    ignore_invalid_headers off;
    client_max_body_size {max_body};
    client_body_buffer_size {BODY_MEMORY_BYTES};

    server {{
        listen {_listen_address(settings.bind)} default_server;
        server_name _;
{per_client}
        location / {{
{to_gunicorn}
        }}
{_upload_admission(settings, to_gunicorn)}{_metrics_elsewhere(settings)}
{_error_pages(max_body)}
    }}
{_metrics_server(settings, to_gunicorn)}}}
"""


def _not_found(indent: str) -> str:
    """A location body answering nginx's own JSON 404."""
    body = json.dumps({"error": "not found"}, separators=(",", ":"))
    return (
        f"{indent}default_type application/json;\n"
        f"{indent}add_header X-Request-Id $sharer_request_id always;\n"
        f"{indent}add_header Cache-Control {ERROR_CACHE_CONTROL} always;\n"
        f"{indent}return 404 {_nginx_string(body)};"
    )


def _nginx_name(header: str) -> str:
    """``header`` as nginx names it in variables: ``Retry-After`` -> ``retry_after``."""
    return header.lower().replace("-", "_")


def _header_variable(name: str) -> str:
    """The nginx variable holding the admission's answer's header ``name``."""
    return "$sharer_admission_" + _nginx_name(name)


def _upload_admission(settings: ServerSettings, to_gunicorn: str) -> str:
    """With API keys or quotas on, ``POST /`` asks the app's admission route (through
    auth_request, before the body is read) and is refused 401 or 429 at once."""
    if not admission_enabled(settings):
        return ""
    # auth_request passes a 401's WWW-Authenticate on itself; the rest nginx keeps.
    passed = tuple(name for name in (REFUSAL_HEADER, *REFUSAL_FIELDS) if name != "WWW-Authenticate")
    kept = "".join(
        f"            auth_request_set {_header_variable(name)} "
        f"$upstream_http_{_nginx_name(name)};\n"
        for name in passed
    )

    def refused(status: int, fields: tuple[str, ...]) -> str:
        added = "".join(
            f"            add_header {name} {_header_variable(name)} always;\n" for name in fields
        )
        return (
            "            default_type application/json;\n"
            "            add_header X-Request-Id $sharer_request_id always;\n"
            f"            add_header Cache-Control {ERROR_CACHE_CONTROL} always;\n"
            f"{added}"
            f"            return {status} '{_header_variable(REFUSAL_HEADER)}\\n';"
        )

    return f"""
        # API keys and quotas refuse an upload from its headers alone: nginx asks the
        # app (server.upload_admission) before it reads the body, or sends 100 Continue.
        location = / {{
            auth_request {ADMISSION_PATH};
{kept}{to_gunicorn}
        }}
        location = {ADMISSION_PATH} {{
            internal;
{to_gunicorn}
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header {METHOD_HEADER} $request_method;
            proxy_set_header {DECLARED_LENGTH_HEADER} $content_length;
            # From outside: a 404. The app unreachable: the upload goes on to meet the
            # same outage (answered 503) rather than auth_request's bare 500.
            error_page 404 @sharer_not_found;
            error_page 502 504 = @sharer_admitted;
        }}
        error_page 401 @sharer_unauthorized;
        # A status after "=" (not a bare "=") keeps nginx from sending 100 Continue.
        error_page {OVER_QUOTA_STATUS} =429 @sharer_over_quota;
        location @sharer_unauthorized {{
{refused(401, RATE_LIMIT_FIELDS)}
        }}
        location @sharer_over_quota {{
{refused(429, ("Retry-After", *RATE_LIMIT_FIELDS))}
        }}
        location @sharer_admitted {{
            return 204;
        }}
        location @sharer_not_found {{
{_not_found("            ")}
        }}
"""


def _metrics_elsewhere(settings: ServerSettings) -> str:
    """On SHARER_BIND, /metrics is a 404 when it has an address of its own."""
    if settings.metrics_bind is None:
        return ""
    return f"""
        # GET /metrics is served on SHARER_METRICS_BIND only.
        location = /metrics {{
{_not_found("            ")}
        }}
"""


def _metrics_server(settings: ServerSettings, to_gunicorn: str) -> str:
    """A server on SHARER_METRICS_BIND with /metrics alone, when it is set."""
    if settings.metrics_bind is None:
        return ""
    return f"""
    server {{
        listen {_listen_address(settings.metrics_bind)};
        server_name _;
        location = /metrics {{
{to_gunicorn}
        }}
        location / {{
{_not_found("            ")}
        }}
    }}
"""


def write_nginx_config(settings: ServerSettings, paths: RuntimePaths) -> Path:
    """Render nginx.conf into ``paths.runtime_dir`` (and make its temporary dirs)."""
    for name in _TEMP_KINDS:
        paths.temp_dir(name).mkdir(parents=True, exist_ok=True, mode=0o700)
    paths.config.write_text(render_nginx_config(settings, paths))
    return paths.config
