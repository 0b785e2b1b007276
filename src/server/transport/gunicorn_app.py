"""gunicorn's stock ``gthread`` worker serving the app on a unix socket behind nginx.

``python -m server.transport.gunicorn_app`` is started by ``sharer-server``
(``server.transport.processes``), which starts nginx in front of it: nginx has read every
request whole before a thread here sees it, so the threads never wait on a client.
"""

import os
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from prometheus_client.multiprocess import mark_process_dead

from server.app import create_app
from server.metrics_route import MULTIPROCESS_DIR_VARIABLE
from server.transport.body_drain import draining_bodies
from server.transport.runtime_paths import RuntimePaths
from sharer.logs import configure_logging
from sharer.settings import ServerSettings, settings_or_exit

# Seconds a worker process may go without a heartbeat before gunicorn restarts it: a
# hung process, not a slow request (nginx bounds the time a request may take).
HEARTBEAT_TIMEOUT = 30
# A stopping process lets its last requests finish: nginx gives up on them at the
# request deadline, and a little more lets the answers go out.
STOP_MARGIN_SECONDS = 3


class SharerGunicorn(BaseApplication):  # type: ignore[misc]
    """Gunicorn configured from our settings, loading the app in each worker process."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        options: dict[str, Any] = {
            "bind": f"unix:{RuntimePaths(Path(self.settings.runtime_dir)).gunicorn_socket}",
            "workers": self.settings.server_processes,
            "worker_class": "gthread",
            # Waiting GETs (server.pending_waits) get threads of their own.
            "threads": self.settings.server_threads + self.settings.waiters_per_process,
            "timeout": HEARTBEAT_TIMEOUT,
            "graceful_timeout": self.settings.request_timeout + STOP_MARGIN_SECONDS,
            # Public URLs come from settings, and client addresses through
            # SHARER_FORWARDED_HOPS (server.request_log): gunicorn trusts no
            # X-Forwarded-* header.
            "forwarded_allow_ips": "",
            # nginx bounds the request line and headers (server.transport.nginx_config)
            # and passes on only what it accepted: gunicorn's own bounds, whose refusals
            # would be HTML, stay out of its way.
            "limit_request_line": 0,
            "limit_request_fields": 32768,
            "limit_request_field_size": 0,
            "accesslog": None,
            "loglevel": self.settings.common.log_level.lower(),
            "logconfig_dict": _json_logging(self.settings.common.log_level),
            # Several servers may run on one host (tests, benchmarks); none needs it.
            "control_socket_disable": True,
            "child_exit": _forget_process_gauges,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        configure_logging(self.settings.common.log_level)
        return draining_bodies(create_app(self.settings))


def _forget_process_gauges(_server: Any, worker: Any) -> None:
    """A gunicorn process is gone: its live gauges (waiters in use) leave the sum."""
    if os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


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
    """Run gunicorn on the socket nginx proxies to (``sharer-server`` starts both)."""
    SharerGunicorn(settings_or_exit("sharer-server", ServerSettings)).run()


if __name__ == "__main__":
    main()
