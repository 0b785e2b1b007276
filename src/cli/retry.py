"""When to try a request again, and after how long."""

import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

# Answers that mean "not now" rather than "no": throttled, briefly unavailable, or a
# gateway (CloudFront, the load balancer) that could not reach a server.
RETRIED_STATUSES = frozenset({429, 502, 503, 504})
# An upload sent with an Idempotency-Key also retries 409: the same upload is still in
# progress (perhaps on a server that died); asking again with the key is what it wants.
IN_PROGRESS = 409
UPLOAD_RETRIED_STATUSES = RETRIED_STATUSES | {IN_PROGRESS}


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded attempts; waits of ``Retry-After`` when the server gives one, else
    exponential backoff; both jittered so a batch of clients does not come back at once."""

    attempts: int = 5
    first_delay: float = 0.5
    max_delay: float = 30.0
    # Up to this fraction of a wait is added at random.
    jitter: float = 0.25
    # An upload the server calls still in progress (409 to its Idempotency-Key) is asked
    # again, as its Retry-After says, for this long without spending attempts: the
    # server promises a takeover once the first attempt cannot be running any more, and
    # a server killed mid-upload must not cost the file.
    in_progress_seconds: float = 300.0

    def waits_for_in_progress(self, status: int | None, elapsed: float) -> bool:
        """Ask again without spending an attempt? Only for a 409 (the same upload in
        progress) while ``elapsed`` seconds are within ``in_progress_seconds``."""
        return status == IN_PROGRESS and elapsed < self.in_progress_seconds

    def should_retry(
        self, attempt: int, status: int | None, retried: frozenset[int] = RETRIED_STATUSES
    ) -> bool:
        """Retry after ``attempt`` (1-based) failed with ``status`` (None: no answer),
        when the status is one of ``retried``?"""
        if attempt >= self.attempts:
            return False
        return status is None or status in retried

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        wait = parse_retry_after(retry_after)
        if wait is None:
            wait = self.first_delay * 2 ** (attempt - 1)
        wait = min(wait, self.max_delay)
        return wait + random.uniform(0, wait * self.jitter)  # noqa: S311 (not a secret)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
