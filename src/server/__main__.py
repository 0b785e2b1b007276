"""``sharer-server``: validate settings, then serve the app with gunicorn."""

import sys
from typing import Any

from gunicorn.app.base import BaseApplication

from server.app import create_app
from server.gunicorn_hooks import refuse_oversized_before_continue
from server.request_deadline import deadline_worker
from sharer.logs import configure_logging
from sharer.settings import Settings, SettingsError, load_settings

# Seconds a worker process may go without a heartbeat before gunicorn restarts it. The
# gthread main loop beats every second whatever its threads are doing, so this catches a
# hung process, not a slow request: requests are bounded by settings.request_timeout
# (see server.request_deadline).
HEARTBEAT_TIMEOUT = 30


class SharerServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn configured from our settings, loading the app in each worker process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        options: dict[str, Any] = {
            "bind": self.settings.bind,
            "workers": self.settings.server_processes,
            "worker_class": deadline_worker(self.settings.request_timeout),
            "threads": self.settings.server_threads,
            "timeout": HEARTBEAT_TIMEOUT,
            # In-flight requests end within request_timeout anyway (cut at their deadline).
            "graceful_timeout": self.settings.request_timeout,
            "keepalive": 5,
            "limit_request_line": 8190,
            "limit_request_fields": 64,
            "limit_request_field_size": 8190,
            "pre_request": refuse_oversized_before_continue(self.settings),
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
    try:
        settings = load_settings()
    except SettingsError as exc:
        sys.exit(f"sharer-server: bad setting: {exc}")
    SharerServer(settings).run()


if __name__ == "__main__":
    main()
