"""``sharer-reconcile``: one bounded pass over stale pending images, expired images and
expired idempotency records, then exit; with ``--every``, a pass every
``SHARER_RECONCILE_PERIOD_SECONDS`` until SIGTERM or SIGINT (how ``make run`` runs it).

On AWS a systemd timer runs single passes (``image-builder/systemd/sharer-reconcile.timer``).
A single pass exits 0, or 1 on a bad setting or when a backend fails (the next run goes on
from there); ``--every`` logs a failed pass and goes on.
"""

import argparse
import logging
import signal
import sys
import threading
import time
from types import FrameType

from reconciler.expiry import ExpiryReaper
from reconciler.idempotency_sweep import sweep_idempotency_records
from reconciler.pending import PendingReconciler
from sharer.backends import open_edge_cache, open_queue, open_storage, open_webhook_events
from sharer.edge_cache import EdgeCacheUnavailable
from sharer.logs import configure_logging
from sharer.queues import QueueUnavailable
from sharer.settings import ReconcilerSettings, settings_or_exit
from sharer.status_documents import Announcer
from sharer.storage import StorageUnavailable

log = logging.getLogger("sharer.reconciler")


def main(argv: list[str] | None = None) -> None:
    """Entry point: one pass (or one every period with ``--every``), a summary log line
    each."""
    parser = argparse.ArgumentParser(prog="sharer-reconcile", description=__doc__)
    parser.add_argument(
        "--every",
        action="store_true",
        help="run a pass every SHARER_RECONCILE_PERIOD_SECONDS until stopped",
    )
    arguments = parser.parse_args(argv)
    settings = settings_or_exit("sharer-reconcile", ReconcilerSettings)
    configure_logging(settings.common.log_level)
    one_pass = _pass(settings)
    if not arguments.every:
        if not one_pass():
            sys.exit(1)
        return
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    while not stop.is_set():
        one_pass()
        stop.wait(settings.reconcile_period_seconds)


def _pass(settings: ReconcilerSettings) -> "PassRunner":
    common = settings.common
    storage = open_storage(common)
    events = open_webhook_events(common)
    reconciler = PendingReconciler(
        storage,
        open_queue(common),
        stale_seconds=settings.reconcile_stale_seconds,
        batch=settings.reconcile_batch,
        announce=Announcer(events, common),
    )
    reaper = ExpiryReaper(
        storage,
        open_edge_cache(common),
        events,
        common,
        batch=settings.reconcile_batch,
    )
    return PassRunner(reconciler, reaper)


class PassRunner:
    """One pass of every reconciler step, logged."""

    def __init__(self, reconciler: PendingReconciler, reaper: ExpiryReaper) -> None:
        self._reconciler = reconciler
        self._reaper = reaper

    def __call__(self) -> bool:
        """Run a pass; False (logged) if a backend failed."""
        try:
            report = self._reconciler.run_once()
            expired = self._reaper.run_once()
            swept = sweep_idempotency_records(self._reconciler.storage, now=time.time())
        except (StorageUnavailable, QueueUnavailable, EdgeCacheUnavailable) as exc:
            log.error(
                "reconcile pass cut short",
                extra={"error": repr(exc), "cause": repr(exc.__cause__)},
            )
            return False
        log.info(
            "reconcile pass done",
            extra={
                "scanned": report.scanned,
                "requeued": report.requeued,
                "given_up": report.given_up,
                "cleared": report.cleared,
                "expired": expired,
                "idempotency_records_removed": len(swept),
            },
        )
        return True


if __name__ == "__main__":
    main()
