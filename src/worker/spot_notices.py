"""Spot notices: the instance metadata says this instance is about to go, so stop now.

EC2 posts a Spot interruption notice (``spot/instance-action``, two minutes before the
action) and a rebalance recommendation (``events/recommendations/rebalance``, when the
instance's Spot capacity is at risk; Auto Scaling's capacity rebalancing then starts a
replacement) in the instance metadata; AWS recommends checking every five seconds
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html).
Either one stops the worker's receiving, so its running jobs finish within the notice
and the rest go back to the queue at once, instead of dying with the instance and
waiting out their visibility timeout.

IMDSv2 only: a session token from ``PUT /latest/api/token``, sent with every ``GET``; an
expired token (401) is replaced once. 404 means no notice. The stdlib's HTTP client is
enough for two small requests to a link-local endpoint every few seconds.
"""

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from http.client import HTTPException

log = logging.getLogger("sharer.worker")

INSTANCE_ACTION_PATH = "/latest/meta-data/spot/instance-action"
REBALANCE_PATH = "/latest/meta-data/events/recommendations/rebalance"
SESSION_PATH = "/latest/api/token"
TOKEN_TTL_SECONDS = 21600
# Each metadata request; the endpoint is on the instance itself.
REQUEST_TIMEOUT_SECONDS = 2.0
# Jobs must be finished or released this long before the announced action.
SAFETY_MARGIN_SECONDS = 10.0


@dataclass(frozen=True)
class SpotNotice:
    """What the metadata announced: ``kind`` is "interruption" or "rebalance";
    ``action_at`` the epoch second of the interruption (None for a rebalance)."""

    kind: str
    action_at: float | None


class InstanceMetadata:
    """IMDSv2 at ``base_url`` (``http://169.254.169.254`` on EC2)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._token: str | None = None

    def notice(self) -> SpotNotice | None:
        """The interruption notice if there is one, else a rebalance recommendation, else None.

        Raises ``OSError`` when the endpoint does not answer or answers nonsense, or
        ``HTTPException`` when what answers does not speak HTTP.
        """
        action = self._get(INSTANCE_ACTION_PATH)
        if action is not None:
            return SpotNotice("interruption", _epoch(action, "time"))
        if self._get(REBALANCE_PATH) is not None:
            return SpotNotice("rebalance", None)
        return None

    def _get(self, path: str) -> dict[str, object] | None:
        for attempt in range(2):
            if self._token is None:
                self._token = self._new_token()
            request = urllib.request.Request(  # noqa: S310 - http(s) only, from settings
                self.base_url + path, headers={"X-aws-ec2-metadata-token": self._token}
            )
            try:
                with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as answer:  # noqa: S310
                    body = answer.read()
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return None
                if exc.code == 401 and attempt == 0:
                    self._token = None
                    continue
                raise
            try:
                document = json.loads(body)
            except ValueError as exc:
                raise OSError(f"instance metadata {path}: not JSON") from exc
            if not isinstance(document, dict):
                raise OSError(f"instance metadata {path}: not a JSON object")
            return document
        raise OSError(f"instance metadata {path}: token refused twice")

    def _new_token(self) -> str:
        request = urllib.request.Request(  # noqa: S310 - http(s) only, from settings
            self.base_url + SESSION_PATH,
            method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL_SECONDS)},
        )
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as answer:  # noqa: S310
            token: bytes = answer.read()
        if not token.strip() or not token.isascii():
            raise OSError("instance metadata: no usable session token")
        return token.decode("ascii").strip()


def _epoch(document: dict[str, object], field: str) -> float | None:
    raw = document.get(field)
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class SpotNoticeWatcher:
    """Polls the metadata every ``poll_seconds``; on a notice sets ``stop`` and records
    the drain deadline (``drain_deadline``). A metadata outage is logged, not fatal."""

    def __init__(self, metadata: InstanceMetadata, poll_seconds: float) -> None:
        self.metadata = metadata
        self.poll_seconds = poll_seconds
        self._deadline: float | None = None
        self._lock = threading.Lock()

    def check(self, stop: threading.Event) -> bool:
        """Look once; True (and ``stop`` set) if a notice is up."""
        try:
            notice = self.metadata.notice()
        except (OSError, HTTPException) as exc:
            log.warning("instance metadata unavailable", extra={"error": repr(exc)})
            return False
        if notice is None:
            return False
        remaining = None if notice.action_at is None else notice.action_at - time.time()
        with self._lock:
            if remaining is not None:
                self._deadline = time.monotonic() + remaining - SAFETY_MARGIN_SECONDS
        log.warning(
            "spot notice: stopping",
            extra={"notice": notice.kind, "seconds_to_action": remaining},
        )
        stop.set()
        return True

    def watch(self, stop: threading.Event) -> threading.Thread:
        """Start a daemon thread checking until a notice or ``stop``."""

        def loop() -> None:
            while not self.check(stop) and not stop.wait(self.poll_seconds):
                pass

        thread = threading.Thread(target=loop, name="spot-notices", daemon=True)
        thread.start()
        return thread

    def wait_out(self, terminated: threading.Event) -> None:
        """After a notice: take no job and wait until ``terminated`` (the instance going,
        SIGTERM) or until the metadata no longer shows a notice, so the process does not
        exit and get restarted again and again on a doomed instance. Looks every poll;
        logs once on entry and once per change, never per look."""
        log.info("spot notice: waiting for the instance to go")
        unavailable = False
        while not terminated.wait(self.poll_seconds):
            try:
                notice = self.metadata.notice()
            except (OSError, HTTPException) as exc:
                if not unavailable:
                    log.warning("instance metadata unavailable", extra={"error": repr(exc)})
                unavailable = True
                continue
            unavailable = False
            if notice is None:
                log.warning("spot notice withdrawn: exiting so the worker starts again")
                return

    def drain_deadline(self) -> float | None:
        """The ``time.monotonic()`` by which running jobs must be done, if a notice set one."""
        with self._lock:
            return self._deadline
