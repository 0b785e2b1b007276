"""``sharer-reconcile``: one bounded pass over stale pending images and expired
idempotency records, then exit.

Run by a systemd timer (``image-builder/systemd/sharer-reconcile.timer``). Exits 0 after
a pass, 1 on a bad setting or when a backend fails (the next run goes on from there).
"""

import logging
import sys
import time

from reconciler.idempotency_sweep import sweep_idempotency_records
from reconciler.pending import PendingReconciler
from sharer.backends import open_queue, open_storage
from sharer.logs import configure_logging
from sharer.queues import QueueUnavailable
from sharer.settings import settings_or_exit
from sharer.storage import StorageUnavailable

log = logging.getLogger("sharer.reconciler")


def main() -> None:
    """Entry point: one pass, one summary log line."""
    settings = settings_or_exit("sharer-reconcile")
    configure_logging(settings.log_level)
    reconciler = PendingReconciler(
        open_storage(settings),
        open_queue(settings),
        stale_seconds=settings.reconcile_stale_seconds,
        batch=settings.reconcile_batch,
    )
    try:
        report = reconciler.run_once()
        swept = sweep_idempotency_records(reconciler.storage, now=time.time())
    except (StorageUnavailable, QueueUnavailable) as exc:
        log.error(
            "reconcile pass cut short", extra={"error": repr(exc), "cause": repr(exc.__cause__)}
        )
        sys.exit(1)
    log.info(
        "reconcile pass done",
        extra={
            "scanned": report.scanned,
            "requeued": report.requeued,
            "given_up": report.given_up,
            "cleared": report.cleared,
            "idempotency_records_removed": len(swept),
        },
    )


if __name__ == "__main__":
    main()
