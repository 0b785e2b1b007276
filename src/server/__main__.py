"""``sharer-server``: validate settings, then serve the app with gunicorn."""

import sys
from typing import Any

from gunicorn.app.base import BaseApplication

from server.app import create_app
from server.gunicorn_hooks import refuse_oversized_before_continue
from sharer.logs import configure_logging
from sharer.settings import Settings, SettingsError, load_settings

# Seconds a worker thread may spend on one request before gunicorn restarts the worker;
# an upload is at most ~1 MiB, so only a stalled client or backend gets near this.
REQUEST_TIMEOUT = 30


class SharerServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn configured from our settings, loading the app in each worker process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        options: dict[str, Any] = {
            "bind": self.settings.bind,
            "workers": self.settings.server_processes,
            "worker_class": "gthread",
            "threads": self.settings.server_threads,
            "timeout": REQUEST_TIMEOUT,
            "graceful_timeout": REQUEST_TIMEOUT,
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
