"""``Prefer: wait=<seconds>`` (RFC 7240) on a GET of a pending image: hold the answer.

While the image is pending, the request sleeps on a wake-up about that image (sent once
its status record changes, see ``sharer.status_wakeups``) or its re-check interval,
whichever ends first, then looks again; it answers once the image has settled (ready,
failed or deleted) or the granted wait has run out, whichever comes first. The grant is
the preferred wait capped by ``SHARER_MAX_WAIT_SECONDS`` (at most half the request
deadline), and is echoed in ``Preference-Applied`` (on whatever the answer is, a 404
included).

A waiting request holds one of the process's threads, so a process lets at most
``SHARER_WAITERS_PER_PROCESS`` wait at once and runs that many threads on top of
``SHARER_SERVER_THREADS``: uploads always find their threads. A request beyond the bound
is answered at once, as without the header, and without ``Preference-Applied``.
"""

import re
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, Response, g, request

from server.service_metrics import WAITERS_IN_USE
from sharer.status_wakeups import StatusWakeups

T = TypeVar("T")

# One preference of a Prefer header: ``wait=10``, ``wait="10"``, perhaps with parameters.
_WAIT = re.compile(r'\s*wait\s*=\s*"?(\d{1,9})"?\s*(?:;.*)?', re.IGNORECASE)


def preferred_wait(prefer_headers: list[str]) -> int | None:
    """The seconds a ``Prefer: wait=N`` asks for (the first one, as RFC 7240 says), or
    None when no header asks to wait."""
    for header in prefer_headers:
        for preference in header.split(","):
            match = _WAIT.fullmatch(preference)
            if match is not None:
                return int(match.group(1))
    return None


class PendingWaits:
    """The waits of one server process, bounded in number; safe for its threads."""

    def __init__(self, wakeups: StatusWakeups, *, max_seconds: int, waiters: int) -> None:
        self._wakeups = wakeups
        self._max_seconds = max_seconds
        self._waiter_slots = threading.BoundedSemaphore(waiters) if waiters > 0 else None

    def notify(self, image_id: str) -> None:
        """Wake the waits on ``image_id`` everywhere (e.g. the image was just deleted)."""
        self._wakeups.notify(image_id)

    def settled(self, image_id: str, look: Callable[[], tuple[T, bool]]) -> T:
        """``look()``'s value once it says settled, or when the current request's granted
        wait is over; at once when the request did not ask to wait, waiting is off, or
        every waiting slot is taken. ``look`` may raise, which ends the wait too."""
        asked = preferred_wait(request.headers.getlist("Prefer"))
        granted = min(asked, self._max_seconds) if asked is not None else 0
        if (
            granted <= 0
            or self._waiter_slots is None
            or not self._waiter_slots.acquire(blocking=False)
        ):
            return look()[0]
        g.wait_granted = granted
        WAITERS_IN_USE.inc()
        try:
            deadline = time.monotonic() + granted
            # Listening before the first look, so a change right after it is not missed.
            with self._wakeups.listening(image_id) as listener:
                value, done = look()
                while not done and (left := deadline - time.monotonic()) > 0:
                    listener.wait(min(left, self._wakeups.recheck_seconds))
                    value, done = look()
        finally:
            WAITERS_IN_USE.dec()
            self._waiter_slots.release()
        return value


def init_pending_waits(app: Flask) -> None:
    """Answer ``Preference-Applied`` whenever a request was granted its wait."""

    @app.after_request
    def preference_applied(response: Response) -> Response:
        granted = g.get("wait_granted")
        if granted is not None:
            response.headers["Preference-Applied"] = f"wait={granted}"
        return response
