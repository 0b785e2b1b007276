"""``sharer-worker``: consume thumbnail jobs until SIGTERM, then drain and exit 0.

``sharer-worker --self-check`` instead checks that this worker can do its job (queue,
bucket, thumbnails: ``worker.self_check``) and exits 0, or 1 naming what failed.
"""

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType

from sharer.aws import MAX_LONG_POLL_SECONDS
from sharer.backends import (
    open_queue,
    open_status_wakeups,
    open_storage,
    open_webhook_events,
)
from sharer.logs import configure_logging
from sharer.queues.consumer import Consumer, ConsumerOptions
from sharer.settings import WorkerSettings, settings_or_exit
from sharer.status_documents import Announcer
from worker.memory import job_budget, return_freed_pixels_promptly
from worker.processing import JobObserver, JobProcessor
from worker.self_check import self_check
from worker.spot_notices import InstanceMetadata, SpotNoticeWatcher

log = logging.getLogger("sharer.worker")

# Long-poll length: short enough that an idle worker notices SIGTERM promptly, and within
# what the AWS clients' read timeout allows.
POLL_SECONDS = float(MAX_LONG_POLL_SECONDS)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run until SIGTERM or SIGINT; exit 1 with the bad variable's name.

    With ``--self-check``: check and exit 0, or 1 with a line per failed check.
    """
    parser = argparse.ArgumentParser(prog="sharer-worker", description=__doc__)
    parser.add_argument(
        "--self-check",
        action="store_true",
        help="check that this worker reaches its queue and storage and makes thumbnails",
    )
    arguments = parser.parse_args(argv)
    settings = settings_or_exit("sharer-worker", WorkerSettings)
    common = settings.common
    configure_logging(common.log_level)
    queue = open_queue(common)
    if arguments.self_check:
        problems = self_check(open_storage(common), queue)
        sys.exit("\n".join(f"sharer-worker --self-check: {p}" for p in problems) or None)
    if not return_freed_pixels_promptly():
        log.warning("no mallopt: freed image memory may stay in the process")
    memory = job_budget(settings.worker_memory_budget_mb)
    processor = JobProcessor(
        open_storage(common),
        queue,
        max_receives=common.max_receives,
        memory=memory,
        wakeups=open_status_wakeups(common),
        observer=_job_metrics(common.worker_metrics_dir),
        announce=Announcer(open_webhook_events(common), common),
    )
    options = ConsumerOptions(
        threads=settings.worker_threads,
        visibility_timeout=common.visibility_timeout,
        grace_seconds=settings.worker_grace_seconds,
        poll_seconds=min(POLL_SECONDS, common.visibility_timeout / 3),
    )
    stop = threading.Event()
    # Set by a signal only; a Spot notice sets ``stop`` alone.
    terminated = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        terminated.set()
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info(
        "worker started",
        extra={
            "threads": options.threads,
            "pid": os.getpid(),
            "memory_for_jobs_mb": memory.total_bytes // 2**20,
        },
    )
    watcher = None
    if settings.instance_metadata_url is not None:
        watcher = SpotNoticeWatcher(
            InstanceMetadata(settings.instance_metadata_url), settings.spot_notice_poll_seconds
        )
        # A notice already up (a restart on a doomed instance) means not one receive.
        if not watcher.check(stop):
            watcher.watch(stop)
    consumer = Consumer(queue, processor.handle, options)
    finished = consumer.run(stop, watcher.drain_deadline if watcher else lambda: None)
    log.info("worker stopped", extra={"all_jobs_finished": finished})
    if watcher is not None and not terminated.is_set():
        # Stopped by a notice: exiting now would have systemd start a worker that finds
        # the same notice and exits again, every RestartSec, until the instance goes.
        watcher.wait_out(terminated)
    if not finished:
        # Stuck job threads cannot be joined; their messages were already released.
        logging.shutdown()
        os._exit(0)


def _job_metrics(directory: str) -> JobObserver:
    """The Prometheus observer, its files in ``directory`` (multiprocess mode: the
    server's GET /metrics reads them); the variable is set before prometheus-client is
    first imported, which is when it decides where values live."""
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        # Metrics are for the operator; a worker without them still makes thumbnails.
        log.warning("no job metrics", extra={"directory": directory, "error": repr(exc)})
        return JobObserver()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    from worker.job_metrics import PrometheusJobObserver

    return PrometheusJobObserver()


if __name__ == "__main__":
    main()
