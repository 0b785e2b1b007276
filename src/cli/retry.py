"""When to try a request again, and after how long."""

import random
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

# Answers that mean "not now" rather than "no": throttled, briefly unavailable, or a
# gateway (CloudFront, the load balancer) that could not reach a server.
RETRIED_STATUSES = frozenset({429, 502, 503, 504})
# An upload sent with an Idempotency-Key also retries 409: the same upload is still in
# progress (perhaps on a server that died); asking again with the key is what it wants.
IN_PROGRESS = 409
UPLOAD_RETRIED_STATUSES = RETRIED_STATUSES | {IN_PROGRESS}


# Tries per request: the waits between them (0.5 s doubling) add up to more than a dead
# server stays in the balancer's rotation (until its third failed health check, 10 s
# apart: cdk/upload_tier.py), where about every other try meets it and gets a 502/503.
DEFAULT_ATTEMPTS = 7


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded attempts; waits of ``Retry-After`` when the server gives one, else
    exponential backoff; both jittered so a batch of clients does not come back at once."""

    attempts: int = DEFAULT_ATTEMPTS
    first_delay: float = 0.5
    max_delay: float = 30.0
    # Up to this fraction of a wait is added at random.
    jitter: float = 0.25
    # An upload the server calls still in progress (409 to its Idempotency-Key) is asked
    # again, as its Retry-After says, for this long without spending attempts: the
    # server promises a takeover once the first attempt cannot be running any more, and
    # a server killed mid-upload must not cost the file.
    in_progress_seconds: float = 300.0

    def tries(self, retried: frozenset[int] = RETRIED_STATUSES) -> "Tries":
        """The retry decisions of one request whose answers of ``retried`` are retried."""
        return Tries(self, retried)

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


@dataclass
class Tries:
    """One request's tries: after each answer that was not the one wanted,
    ``wait_after`` says how long to wait before the next, or that there is none."""

    policy: RetryPolicy
    retried: frozenset[int]
    spent: int = 0
    started: float = field(default_factory=time.monotonic)

    def wait_after(self, status: int | None, retry_after: str | None) -> float | None:
        """Seconds to wait before trying again after an answer of ``status`` (None: no
        answer) with the header ``retry_after``, or None when that answer is final.

        Each answer spends an attempt, except a retried 409 (the same upload in
        progress) within the policy's ``in_progress_seconds``."""
        in_progress = (
            status == IN_PROGRESS
            and status in self.retried
            and time.monotonic() - self.started < self.policy.in_progress_seconds
        )
        if not in_progress:
            self.spent += 1
            if not self.policy.should_retry(self.spent, status, self.retried):
                return None
        return self.policy.delay(max(self.spent, 1), retry_after)


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
