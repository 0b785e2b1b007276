"""The server restarts (SIGTERM, then a new one) while clients keep uploading: every 202
given on either side of the restart is kept, and nothing was stored without a 202's job."""

import signal
import threading

import pytest

from faults.conftest import Stack
from support import images
from support.load import Tally, check_thumbnails, settle, upload_many
from support.services import STOP_TIMEOUT
from support.waiting import wait_for

pytestmark = pytest.mark.e2e

CLIENTS = 4
# Clients stop once this many 202s came from each side of the restart (or at the bound).
ACCEPTED_EACH_SIDE = 10
MAX_UPLOAD_SECONDS = 90.0


def test_every_202_around_a_server_restart_is_kept(local_stack: Stack) -> None:
    # Gunicorn's shutdown and the upload path are the same on both backend pairs.
    stack, service = local_stack, local_stack.service
    service.start_server()
    service.start_worker()
    payloads = [images.jpeg((800, 600), seed=1), images.png((300, 200), seed=2)]
    tally, stop = Tally(), threading.Event()
    options = {"concurrency": CLIENTS, "seconds": MAX_UPLOAD_SECONDS, "pause": 0.02}
    clients = threading.Thread(
        target=upload_many,
        args=(service.base_url, payloads),
        kwargs=options | {"tally": tally, "stop": stop},
    )
    clients.start()
    try:
        assert wait_for(lambda: tally.statuses[202] >= ACCEPTED_EACH_SIDE, timeout=30)
        assert service.server is not None
        service.server.send_signal(signal.SIGTERM)
        assert service.server.wait(STOP_TIMEOUT) == 0  # graceful: in-flight requests answered
        accepted_before = tally.statuses[202]
        service.start_server()
        after = accepted_before + ACCEPTED_EACH_SIDE
        assert wait_for(lambda: tally.statuses[202] >= after, timeout=30), "none after restart"
    finally:
        stop.set()
        clients.join(MAX_UPLOAD_SECONDS)
    assert tally.server_errors == 0
    # The only failures are connection errors: mostly refused while no server listens, plus
    # a few resets (about 3 a restart) of kept-alive connections the stopping server closed;
    # the stored == promised check below shows none of those uploads was half done.
    assert set(tally.statuses) == {202}

    states = settle(service.base_url, tally.accepted, timeout=60)
    assert set(states.values()) == {"ready"}
    assert check_thumbnails(tally.accepted) == []
    # No original without its job: every stored image is one a 202 promised (an upload
    # cut off after its job was queued would be finished anyway, and show up here).
    promised = {a.location.rsplit("/", 1)[1] for a in tally.accepted}
    stored = {key.split("/")[1] for key in stack.backends.keys("images/")}
    assert stored == promised
