"""Each process's settings, read from the environment: one section per process.

``CommonSettings`` holds what every process shares (backends, public URLs, logging); each
process's section (``ServerSettings``, ``WorkerSettings``, ``ReconcilerSettings``,
``WebhookDeliverySettings``) nests it and adds its own. ``from_env`` validates a section at
start and raises ``SettingsError`` naming the bad variable, so a misconfigured process fails
before it takes any traffic; it also refuses a ``SHARER_*`` variable that no process reads
(a typo would otherwise pass silently). The known names come from the sections themselves:
each records the names it reads.
"""

import base64
import binascii
import functools
import os
import re
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Self, TypeVar
from urllib.parse import SplitResult, urlsplit

from sharer.formats import ACCEPTED, ImageFormat

T = TypeVar("T")

DEFAULT_DATA_DIR = "./var"
# CloudFront distribution ids are upper-case letters and digits (e.g. E2QWRUHAPOMQZL).
_DISTRIBUTION_ID = re.compile(r"[A-Z0-9]{1,64}")
# The worker's peak resident memory: the worker instance type (t4g.small, 2 GiB) less
# what the OS, the SSM and CloudWatch agents and the page cache for originals need.
DEFAULT_WORKER_MEMORY_BUDGET_MB = 1280
# The longest a GET with ``Prefer: wait`` is held, unless the request deadline is shorter.
DEFAULT_MAX_WAIT_SECONDS = 10
# Expiry (``expires_in`` on an upload): at most 30 days by default, at least a minute.
DEFAULT_MAX_EXPIRES_SECONDS = 30 * 24 * 60 * 60
DEFAULT_MIN_EXPIRES_SECONDS = 60
# The bucket's lifecycle backstop keeps expiring objects at most this long (cdk.image_bucket).
LONGEST_EXPIRES_SECONDS = 365 * 24 * 60 * 60
DEFAULT_BIND = "127.0.0.1:8080"

# ``SHARER_*`` variables that something other than these sections reads, and who: they may
# sit in a process's environment without being a typo.
READ_ELSEWHERE: Mapping[str, str] = {
    "SHARER_SERVER": "the sharer CLI (src/cli/main.py): the server to upload to",
    "SHARER_API_KEY": "the sharer CLI (src/cli/main.py): the key it sends",
    "SHARER_SETTINGS_PARAMETER": "an instance's units (image-builder): their settings' SSM name",
    "SHARER_AGENT_PARAMETER": "an instance's log agent (image-builder): its config's SSM name",
    "SHARER_AUDIT_LOG": "tests/hostile/audit: the audit hook's log file",
    "SHARER_TEST_HELD_DESCRIPTORS": "tests/e2e/held_descriptors: descriptors held at start",
}


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


class _Environment:
    """The variables a section reads, parsed with a message naming the bad one; it keeps
    every name read, which is how the known names come from the sections themselves."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self.names_read: set[str] = set()
        self.data_dir = os.path.abspath(self.get("SHARER_DATA_DIR", DEFAULT_DATA_DIR) or "")

    def get(self, name: str, default: str | None = None) -> str | None:
        """The stripped value of ``name``, or ``default`` when unset or blank."""
        self.names_read.add(name)
        value = self._environ.get(name, "").strip()
        return value or default

    def parsed(self, name: str, default: str, parse: Callable[[str], T]) -> T:
        """``name`` (else ``default``) through ``parse``; its ValueError names ``name``."""
        raw = self.get(name, default)
        assert raw is not None
        return _parse(name, raw, parse)

    def optional(self, name: str, parse: Callable[[str], T]) -> T | None:
        """``name`` through ``parse``, or None when it is unset."""
        raw = self.get(name)
        return None if raw is None else _parse(name, raw, parse)


def _require(holds: bool, message: str) -> None:
    """Refuse settings that are each valid but do not hold together; ``message`` names
    the variable."""
    if not holds:
        raise SettingsError(message)


def _parse(name: str, raw: str, parse: Callable[[str], T]) -> T:
    try:
        return parse(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r}: {exc}") from exc


class Section:
    """A process's settings (or the common ones), parsed and validated by ``read``."""

    @classmethod
    def read(cls, env: _Environment) -> Self:
        """The section from ``env``; raises ``SettingsError`` naming a bad variable."""
        raise NotImplementedError

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The section from ``environ`` (the process's environment by default), refusing
        any ``SHARER_*`` variable that no process reads."""
        env = os.environ if environ is None else environ
        unknown = unknown_variables(env)
        if unknown:
            raise SettingsError(
                "; ".join(f"unknown setting {name} (no process reads it)" for name in unknown)
            )
        return cls.read(_Environment(env))


S = TypeVar("S", bound=Section)


@dataclass(frozen=True)
class CommonSettings(Section):
    """What every process shares: its backends, the public URLs, logging."""

    storage_url: str
    queue_url: str
    dead_letter_queue_url: str | None
    max_receives: int
    visibility_timeout: int
    public_base_url: str | None
    site_url: str
    aws_endpoint_url: str | None
    aws_region: str | None
    log_level: str
    cdn_distribution_id: str | None
    # Where API keys and quota counters live: sqlite:///path, or dynamodb://table on AWS.
    quota_store_url: str
    # The workers' Prometheus files, which the server's GET /metrics adds up (embedded mode).
    worker_metrics_dir: str
    # Webhooks (``sharer.webhook_events``): None when no receiver is configured.
    webhook_url: str | None
    webhook_queue_url: str
    webhook_dead_letter_queue_url: str | None
    # Threads of this process that may call a backend at once: the AWS clients keep a
    # connection for each (set by the process's section, not by a variable).
    calling_threads: int = 1

    @property
    def serves_media(self) -> bool:
        """Local storage has no CDN in front of it, so the server serves the objects."""
        return self.storage_url.startswith("file://")

    @classmethod
    def read(cls, env: _Environment, calling_threads: int = 1) -> Self:
        """Parse and validate the common section from ``env``."""
        data_dir = env.data_dir
        queue_url = env.parsed("SHARER_QUEUE_URL", f"sqlite://{data_dir}/queue.sqlite3", _queue_url)
        dlq = env.get("SHARER_DEAD_LETTER_QUEUE_URL")
        if queue_url.startswith("http") and dlq is None:
            raise SettingsError(
                "SHARER_DEAD_LETTER_QUEUE_URL: required with an SQS SHARER_QUEUE_URL "
                "(poison messages are moved there)"
            )
        public_base = env.optional("SHARER_PUBLIC_BASE_URL", _http_url)
        # The site is where the server listens, unless configured.
        bind = env.parsed("SHARER_BIND", DEFAULT_BIND, _host_port)
        site_url = env.parsed("SHARER_SITE_URL", _bind_url(bind), _http_url)
        webhook_queue_url = env.parsed(
            "SHARER_WEBHOOK_QUEUE_URL", f"sqlite://{data_dir}/webhooks.sqlite3", _queue_url
        )
        webhook_dlq = env.get("SHARER_WEBHOOK_DEAD_LETTER_QUEUE_URL")
        if webhook_queue_url.startswith("http") and webhook_dlq is None:
            raise SettingsError(
                "SHARER_WEBHOOK_DEAD_LETTER_QUEUE_URL: required with an SQS "
                "SHARER_WEBHOOK_QUEUE_URL (events that exhaust their retries go there)"
            )
        return cls(
            storage_url=env.parsed("SHARER_STORAGE_URL", f"file://{data_dir}/media", _storage_url),
            queue_url=queue_url,
            dead_letter_queue_url=dlq,
            max_receives=env.parsed("SHARER_MAX_RECEIVES", "5", _positive_int),
            visibility_timeout=env.parsed("SHARER_VISIBILITY_TIMEOUT", "60", _positive_int),
            public_base_url=public_base.rstrip("/") if public_base else None,
            site_url=site_url.rstrip("/"),
            aws_endpoint_url=env.get("SHARER_AWS_ENDPOINT_URL"),
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
            log_level=env.parsed("SHARER_LOG_LEVEL", "INFO", _log_level),
            cdn_distribution_id=env.optional("SHARER_CDN_DISTRIBUTION_ID", _distribution_id),
            quota_store_url=env.parsed(
                "SHARER_QUOTA_STORE_URL", f"sqlite://{data_dir}/quotas.sqlite3", _quota_store_url
            ),
            worker_metrics_dir=os.path.abspath(
                env.get("SHARER_WORKER_METRICS_DIR", f"{data_dir}/worker-metrics") or ""
            ),
            webhook_url=env.optional("SHARER_WEBHOOK_URL", _http_url),
            webhook_queue_url=webhook_queue_url,
            webhook_dead_letter_queue_url=webhook_dlq,
            calling_threads=calling_threads,
        )


@dataclass(frozen=True)
class ServerSettings(Section):
    """The upload server's section: listening, its processes and threads, deadlines, what
    an upload may be, API keys and quotas."""

    common: CommonSettings
    bind: str
    server_processes: int
    server_threads: int
    request_timeout: int
    keepalive_seconds: int
    max_connections_per_client: int
    forwarded_hops: int
    max_wait_seconds: int
    waiters_per_process: int
    idempotency_takeover_seconds: int
    costly_proofs_per_process: int
    # The server's runtime files: nginx's config, pid and temporary files, gunicorn's socket.
    runtime_dir: str
    # Where nginx serves GET /metrics (None: on SHARER_BIND with everything else).
    metrics_bind: str | None
    # API keys on uploads: "off" (no key looked at), "optional" or "required".
    api_keys: str
    # Quotas of requests without a key, per client address (0: no quota).
    address_uploads_per_minute: int
    address_bytes_per_day: int
    max_upload_bytes: int
    max_pixels: int
    # An animation's frames x width x height, and its frames, at most (the worker decodes,
    # resizes and holds every frame: worker.animated_thumbnails).
    max_animation_pixels: int
    max_animation_frames: int
    strip_original_metadata: bool
    accepted_formats: tuple[ImageFormat, ...]
    # The bounds of an upload's ``expires_in``.
    min_expires_seconds: int
    max_expires_seconds: int

    @property
    def costly_proof_waiters(self) -> int:
        """Uploads that may wait for a costly-proof slot in a process: as many as the
        slots, while a thread stays free for the health check and cheap requests."""
        spare = self.server_threads - 1 - self.costly_proofs_per_process
        return max(0, min(self.costly_proofs_per_process, spare))

    @classmethod
    def read(cls, env: _Environment) -> Self:
        """Parse and validate the server's section (and the common one) from ``env``."""
        request_timeout = env.parsed("SHARER_REQUEST_TIMEOUT", "30", _positive_int)
        # A waiting request must answer well before nginx gives up on the answer (504).
        wait_bound = request_timeout // 2
        default_wait = min(DEFAULT_MAX_WAIT_SECONDS, wait_bound)
        max_wait = env.parsed("SHARER_MAX_WAIT_SECONDS", str(default_wait), _non_negative_int)
        _require(
            max_wait <= wait_bound,
            f"SHARER_MAX_WAIT_SECONDS={max_wait}: at most half of "
            f"SHARER_REQUEST_TIMEOUT ({request_timeout})",
        )
        # An upload still marked in progress after this long was cut short (its server
        # died): a retry may take it over. It must outlast any request that is still running.
        takeover = env.parsed(
            "SHARER_IDEMPOTENCY_TAKEOVER_SECONDS", str(4 * request_timeout), _positive_int
        )
        _require(
            takeover > 2 * request_timeout,
            f"SHARER_IDEMPOTENCY_TAKEOVER_SECONDS={takeover}: must be more than twice "
            f"SHARER_REQUEST_TIMEOUT ({request_timeout})",
        )
        server_processes = env.parsed("SHARER_SERVER_PROCESSES", "2", _positive_int)
        server_threads = env.parsed("SHARER_SERVER_THREADS", "4", _positive_int)
        costly_proofs = env.parsed(
            "SHARER_COSTLY_PROOFS_PER_PROCESS",
            str(default_costly_proofs(server_processes, server_threads)),
            _positive_int,
        )
        _require(
            costly_proofs <= server_threads,
            f"SHARER_COSTLY_PROOFS_PER_PROCESS={costly_proofs}: at most "
            f"SHARER_SERVER_THREADS ({server_threads}), and better fewer, so a thread "
            "is left for the health check and cheap requests",
        )
        bind = env.parsed("SHARER_BIND", DEFAULT_BIND, _host_port)
        metrics_bind = env.optional("SHARER_METRICS_BIND", _host_port)
        if metrics_bind is not None and metrics_bind.rpartition(":")[2] == bind.rpartition(":")[2]:
            raise SettingsError(
                f"SHARER_METRICS_BIND={metrics_bind!r}: needs a port other than SHARER_BIND's"
            )
        min_expires = env.parsed(
            "SHARER_MIN_EXPIRES_SECONDS", str(DEFAULT_MIN_EXPIRES_SECONDS), _positive_int
        )
        max_expires = env.parsed(
            "SHARER_MAX_EXPIRES_SECONDS", str(DEFAULT_MAX_EXPIRES_SECONDS), _positive_int
        )
        _require(
            min_expires <= max_expires <= LONGEST_EXPIRES_SECONDS,
            f"SHARER_MAX_EXPIRES_SECONDS={max_expires}: must be at least "
            f"SHARER_MIN_EXPIRES_SECONDS ({min_expires}) and at most "
            f"{LONGEST_EXPIRES_SECONDS} (a year: the bucket's lifecycle backstop)",
        )
        waiters = env.parsed("SHARER_WAITERS_PER_PROCESS", "8", _non_negative_int)
        address_uploads = env.parsed("SHARER_ADDRESS_UPLOADS_PER_MINUTE", "0", _non_negative_int)
        address_bytes = env.parsed("SHARER_ADDRESS_BYTES_PER_DAY", "0", _non_negative_int)
        animation_pixels = env.parsed("SHARER_MAX_ANIMATION_PIXELS", "50000000", _positive_int)
        animation_frames = env.parsed("SHARER_MAX_ANIMATION_FRAMES", "1000", _animation_frames)
        return cls(
            common=CommonSettings.read(env, calling_threads=server_threads + waiters),
            bind=bind,
            server_processes=server_processes,
            server_threads=server_threads,
            request_timeout=request_timeout,
            keepalive_seconds=env.parsed("SHARER_KEEPALIVE_SECONDS", "5", _positive_int),
            max_connections_per_client=env.parsed(
                "SHARER_MAX_CONNECTIONS_PER_CLIENT", "64", _non_negative_int
            ),
            forwarded_hops=env.parsed("SHARER_FORWARDED_HOPS", "0", _non_negative_int),
            max_wait_seconds=max_wait,
            waiters_per_process=waiters,
            idempotency_takeover_seconds=takeover,
            costly_proofs_per_process=costly_proofs,
            # One per port by default: several servers may share a data directory.
            runtime_dir=env.parsed(
                "SHARER_RUNTIME_DIR",
                f"{env.data_dir}/run/{bind.rpartition(':')[2]}",
                _runtime_dir,
            ),
            metrics_bind=metrics_bind,
            api_keys=env.parsed("SHARER_API_KEYS", "off", _api_keys_mode),
            address_uploads_per_minute=address_uploads,
            address_bytes_per_day=address_bytes,
            max_upload_bytes=env.parsed("SHARER_MAX_UPLOAD_BYTES", "1048576", _positive_int),
            max_pixels=env.parsed("SHARER_MAX_PIXELS", "50000000", _positive_int),
            max_animation_pixels=animation_pixels,
            max_animation_frames=animation_frames,
            strip_original_metadata=env.parsed("SHARER_STRIP_ORIGINAL_METADATA", "true", _boolean),
            accepted_formats=env.parsed(
                "SHARER_ACCEPTED_FORMATS", ",".join(ACCEPTED), _accepted_formats
            ),
            min_expires_seconds=min_expires,
            max_expires_seconds=max_expires,
        )


@dataclass(frozen=True)
class WorkerSettings(Section):
    """The worker's section: its threads, stop grace, memory budget and Spot notices."""

    common: CommonSettings
    worker_threads: int
    worker_grace_seconds: int
    worker_memory_budget_mb: int
    # The instance metadata service the worker watches for Spot notices (None: not on EC2).
    instance_metadata_url: str | None
    spot_notice_poll_seconds: float

    @classmethod
    def read(cls, env: _Environment) -> Self:
        """Parse and validate the worker's section (and the common one) from ``env``."""
        # One job more than cores: while one job waits on storage, the cores stay busy.
        threads = env.parsed("SHARER_WORKER_THREADS", str((os.cpu_count() or 1) + 1), _positive_int)
        return cls(
            common=CommonSettings.read(env, calling_threads=threads),
            worker_threads=threads,
            worker_grace_seconds=env.parsed("SHARER_WORKER_GRACE_SECONDS", "30", _positive_int),
            worker_memory_budget_mb=env.parsed(
                "SHARER_WORKER_MEMORY_BUDGET_MB",
                str(DEFAULT_WORKER_MEMORY_BUDGET_MB),
                _positive_int,
            ),
            instance_metadata_url=env.optional("SHARER_INSTANCE_METADATA_URL", _http_url),
            # AWS recommends checking for interruption notices every 5 seconds.
            spot_notice_poll_seconds=env.parsed(
                "SHARER_SPOT_NOTICE_POLL_SECONDS", "5", _poll_seconds
            ),
        )


@dataclass(frozen=True)
class ReconcilerSettings(Section):
    """The reconciler's section: what it finds stale, how much a pass does, how often."""

    common: CommonSettings
    reconcile_stale_seconds: int
    reconcile_batch: int
    # How often ``sharer-reconcile --every`` runs a pass (``make run``; on AWS its
    # systemd timer decides).
    reconcile_period_seconds: int

    @classmethod
    def read(cls, env: _Environment) -> Self:
        """Parse and validate the reconciler's section (and the common one) from ``env``."""
        return cls(
            common=CommonSettings.read(env),
            reconcile_stale_seconds=env.parsed(
                "SHARER_RECONCILE_STALE_SECONDS", "900", _positive_int
            ),
            reconcile_batch=env.parsed("SHARER_RECONCILE_BATCH", "100", _positive_int),
            reconcile_period_seconds=env.parsed(
                "SHARER_RECONCILE_PERIOD_SECONDS", "60", _positive_int
            ),
        )


@dataclass(frozen=True)
class WebhookDeliverySettings(Section):
    """``sharer-webhooks``' section: the signing secret, and how it delivers."""

    common: CommonSettings
    webhook_secret: bytes | None
    webhook_allow_private: bool
    webhook_retry_base_seconds: int

    @classmethod
    def read(cls, env: _Environment) -> Self:
        """Parse and validate the delivery's section (and the common one) from ``env``."""
        common = CommonSettings.read(env)
        secret = env.optional("SHARER_WEBHOOK_SECRET", _webhook_secret)
        if common.webhook_url is not None and secret is None:
            raise SettingsError(
                "SHARER_WEBHOOK_SECRET: required with SHARER_WEBHOOK_URL (whsec_ and base64)"
            )
        return cls(
            common=common,
            webhook_secret=secret,
            webhook_allow_private=env.parsed("SHARER_WEBHOOK_ALLOW_PRIVATE", "false", _boolean),
            webhook_retry_base_seconds=env.parsed(
                "SHARER_WEBHOOK_RETRY_BASE_SECONDS", "30", _positive_int
            ),
        )


# Every section: a variable none of them reads (nor READ_ELSEWHERE names) is refused.
SECTIONS: tuple[type[Section], ...] = (
    CommonSettings,
    ServerSettings,
    WorkerSettings,
    ReconcilerSettings,
    WebhookDeliverySettings,
)


def variables_of(section: type[Section]) -> frozenset[str]:
    """The variables ``section`` reads (its nested common section's included), recorded
    while it reads its defaults."""
    env = _Environment({})
    section.read(env)
    return frozenset(env.names_read)


@functools.cache
def known_variables() -> frozenset[str]:
    """Every ``SHARER_*`` name a process reads: what the sections read, and
    ``READ_ELSEWHERE``."""
    read = set(READ_ELSEWHERE).union(*(variables_of(section) for section in SECTIONS))
    return frozenset(name for name in read if name.startswith("SHARER_"))


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """The ``SHARER_*`` names in ``environ`` that no process reads, sorted."""
    known = known_variables()
    return sorted(name for name in environ if name.startswith("SHARER_") and name not in known)


def default_costly_proofs(server_processes: int, server_threads: int) -> int:
    """The default bound on costly decode proofs per server process: the processes'
    proofs together take at most the machine's cores, and each process keeps a thread
    free for cheap requests (while it has more than one)."""
    per_process = (os.cpu_count() or 1) // server_processes
    return max(1, min(per_process, server_threads - 1))


def settings_or_exit(program: str, section: type[S]) -> S:
    """``section`` from the environment, or exit 1 with a message naming ``program`` and
    the bad (or unknown) variable: how every entry point starts."""
    try:
        return section.from_env()
    except SettingsError as exc:
        sys.exit(f"{program}: bad setting: {exc}")


def _distribution_id(raw: str) -> str:
    if _DISTRIBUTION_ID.fullmatch(raw) is None:
        raise ValueError("must be a CloudFront distribution id (upper-case letters, digits)")
    return raw


# A server bound to every interface is reached by the machine's name.
_WILDCARD_HOSTS = ("0.0.0.0", "::", "[::]", "")  # noqa: S104 - recognised, not bound


def _bind_url(bind: str) -> str:
    """Where a server bound at ``bind`` is reached, when no URL is configured."""
    host, _, port = bind.rpartition(":")
    if host in _WILDCARD_HOSTS:
        host = socket.gethostname()
    return f"http://{host}:{port}"


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _animation_frames(raw: str) -> int:
    value = _positive_int(raw)
    if value < 2:
        raise ValueError("must be at least 2 (an animation has two frames or more)")
    return value


def _poll_seconds(raw: str) -> float:
    value = float(raw)
    # A notice gives two minutes; polling slower than a tenth of that wastes most of it.
    if not 0 < value <= 12:
        raise ValueError("must be a number of seconds above 0 and at most 12")
    return value


_WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's prefix, not a secret


def _webhook_secret(raw: str) -> bytes:
    """The key bytes of a Standard Webhooks secret (``whsec_`` then base64)."""
    if not raw.startswith(_WEBHOOK_SECRET_PREFIX):
        raise ValueError("must be whsec_ followed by the base64 of 24 to 64 random bytes")
    try:
        key = base64.b64decode(raw.removeprefix(_WEBHOOK_SECRET_PREFIX), validate=True)
    except binascii.Error as exc:
        raise ValueError("the part after whsec_ is not base64") from exc
    if not 24 <= len(key) <= 64:
        raise ValueError("must be whsec_ followed by the base64 of 24 to 64 random bytes")
    return key


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be 0 or a positive integer")
    return value


def _boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _accepted_formats(raw: str) -> tuple[ImageFormat, ...]:
    names = {name.strip().upper() for name in raw.split(",") if name.strip()}
    unknown = names - set(ACCEPTED)
    if unknown or not names:
        raise ValueError(f"must list one or more of {', '.join(ACCEPTED)}")
    return tuple(f for name, f in ACCEPTED.items() if name in names)


API_KEY_MODES = ("off", "optional", "required")


def _api_keys_mode(raw: str) -> str:
    mode = raw.lower()
    if mode not in API_KEY_MODES:
        raise ValueError(f"must be one of {', '.join(API_KEY_MODES)}")
    return mode


def _quota_store_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme == "sqlite" and _is_local_path(parts):
        return raw
    if parts.scheme == "dynamodb" and parts.netloc and parts.path in ("", "/"):
        return raw
    raise ValueError("must be sqlite:///absolute/path or dynamodb://table-name")


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
    return level


def _host_port(raw: str) -> str:
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("must be HOST:PORT")
    return raw


# A unix socket's path is at most 107 bytes; gunicorn's lives in the runtime directory.
_MAX_RUNTIME_DIR = 90


def _runtime_dir(raw: str) -> str:
    path = os.path.abspath(raw)
    if len(path.encode()) > _MAX_RUNTIME_DIR:
        raise ValueError(f"must be a path of at most {_MAX_RUNTIME_DIR} bytes (a unix socket)")
    return path


def _is_local_path(parts: SplitResult) -> bool:
    # file://host/dir would silently mean "/dir" on this machine; refuse it instead.
    return parts.netloc in ("", "localhost") and parts.path.startswith("/")


def _storage_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme == "file" and _is_local_path(parts):
        return raw
    if parts.scheme == "s3" and parts.netloc:
        return raw
    raise ValueError("must be file:///absolute/dir or s3://bucket[/prefix]")


def _queue_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme == "sqlite" and _is_local_path(parts):
        return raw
    if parts.scheme in ("http", "https") and parts.netloc:
        return raw
    raise ValueError("must be sqlite:///absolute/path or an SQS queue URL")


def _http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL")
    return raw
