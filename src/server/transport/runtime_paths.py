"""Where nginx and gunicorn keep their runtime files, all under ``SHARER_RUNTIME_DIR``."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RuntimePaths:
    """The runtime directory's files: nginx's config, pid and temporary files, gunicorn's
    socket and its processes' Prometheus files."""

    runtime_dir: Path

    @property
    def config(self) -> Path:
        """The rendered nginx.conf."""
        return self.runtime_dir / "nginx.conf"

    @property
    def gunicorn_socket(self) -> Path:
        """The unix socket gunicorn listens on, and nginx proxies to."""
        return self.runtime_dir / "gunicorn.sock"

    @property
    def prometheus_dir(self) -> Path:
        """gunicorn's processes' Prometheus files (multiprocess mode), emptied at start."""
        return self.runtime_dir / "prometheus"

    @property
    def pid_file(self) -> Path:
        """nginx's master process id."""
        return self.runtime_dir / "nginx.pid"

    def temp_dir(self, name: str) -> Path:
        """nginx's temporary files of one kind (request bodies, proxied responses...)."""
        return self.runtime_dir / "nginx-temp" / name
