"""``sharer-server``: validate settings, then serve the app with gunicorn."""

import math
import resource
from typing import Any

from gunicorn.app.base import BaseApplication

from server.app import create_app, max_request_bytes
from server.request_deadline import LINGER_SECONDS, buffering_worker
from sharer.logs import configure_logging
from sharer.settings import Settings, settings_or_exit

# Seconds a worker process may go without a heartbeat before gunicorn restarts it. The
# gthread main loop beats every second whatever its threads are doing, so this catches a
# hung process, not a slow request: requests are bounded by settings.request_timeout
# (see server.request_deadline).
HEARTBEAT_TIMEOUT = 30
# Connections one process holds at most (waiting ones cost a descriptor and their bytes,
# never a thread); the file-descriptor limit is raised to fit them.
CONNECTIONS_PER_PROCESS = 8192
# After its last request's deadline, a stopping process may take a moment until
# its loop notices, and then linger over the closing connection.
STOP_MARGIN_SECONDS = 1 + math.ceil(LINGER_SECONDS)


class SharerServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn configured from our settings, loading the app in each worker process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        options: dict[str, Any] = {
            "bind": self.settings.bind,
            "workers": self.settings.server_processes,
            "worker_class": buffering_worker(
                deadline=self.settings.request_timeout,
                max_body=max_request_bytes(self.settings),
                max_per_client=self.settings.max_connections_per_client,
                forwarded_hops=self.settings.forwarded_hops,
            ),
            # Waiting GETs (server.pending_waits) get threads of their own.
            "threads": self.settings.server_threads + self.settings.waiters_per_process,
            "worker_connections": CONNECTIONS_PER_PROCESS,
            "timeout": HEARTBEAT_TIMEOUT,
            # Every in-flight request ends by its deadline (counted from accept), so a
            # graceful stop lets each one finish or be cut, and never kills one early.
            "graceful_timeout": self.settings.request_timeout + STOP_MARGIN_SECONDS,
            "keepalive": self.settings.keepalive_seconds,
            "limit_request_line": 8190,
            "limit_request_fields": 64,
            "limit_request_field_size": 8190,
            # Public URLs come from settings, and client addresses through
            # SHARER_FORWARDED_HOPS: gunicorn trusts no X-Forwarded-* header.
            "forwarded_allow_ips": "",
            "accesslog": None,
            "loglevel": self.settings.log_level.lower(),
            "logconfig_dict": _json_logging(self.settings.log_level),
            # Several servers may run on one host (tests, benchmarks); none needs it.
            "control_socket_disable": True,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        configure_logging(self.settings.log_level)
        return create_app(self.settings)


def _json_logging(level: str) -> dict[str, Any]:
    """Gunicorn's own log lines as JSON too, like the app's (the access log is ours)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "sharer.logs.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {"gunicorn.error": {"handlers": ["stderr"], "level": level, "propagate": False}},
    }


def main() -> None:
    """Entry point: exit 1 with a message naming the bad variable on a settings error."""
    settings = settings_or_exit("sharer-server")
    _raise_file_limit(settings.server_processes * CONNECTIONS_PER_PROCESS + 256)
    SharerServer(settings).run()


def _raise_file_limit(wanted: int) -> None:
    """Raise this process's (and its workers') open-file limit towards ``wanted``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


if __name__ == "__main__":
    main()
