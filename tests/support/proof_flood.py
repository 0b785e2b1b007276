"""Issue 25's phone-photo flood: many HEIC uploads at once from one client, while another
client times the health check and a small JPEG upload.

Shared by the flood test (``tests/hostile/test_proof_flood.py``) and its benchmark
(``bench/proof_flood.py``). Every wait is bounded by ``REQUEST_TIMEOUT`` and the probe
loop by ``max_probes``.
"""

import io
import random
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pillow_heif
import requests

from support.images import Size, photo_image

REQUEST_TIMEOUT = 30.0
# A probe not answered in this long counts as unanswered (status 0): longer than the
# AWS load balancer's health check waits (5 s).
PROBE_TIMEOUT = 10.0
# A pause between two probes, so the probing client is not a flood of its own.
PROBE_PAUSE_SECONDS = 0.05


def phone_heic(size: Size = (4000, 3000)) -> bytes:
    """A phone-sized HEIC with full-resolution chroma (4:4:4, the costliest proof) that
    stays under the 1 MiB upload bound."""
    buffer = io.BytesIO()
    encoded = pillow_heif.from_pillow(photo_image(size, grain=0))
    encoded.save(buffer, format="HEIF", quality=30, chroma=444)
    return buffer.getvalue()


@dataclass(frozen=True)
class Answer:
    """One answer: its status, headers, JSON body if any, and how long it took."""

    status: int
    headers: dict[str, str]
    error: str | None
    seconds: float

    @classmethod
    def of(cls, response: requests.Response, seconds: float) -> "Answer":
        """What ``response`` said, taken ``seconds`` after its request was sent."""
        body = response.json() if response.headers.get("Content-Type") == "application/json" else {}
        error = body.get("error") if isinstance(body, dict) else None
        return cls(response.status_code, dict(response.headers), error, seconds)


@dataclass(frozen=True)
class Probe:
    """A probe's answer and how many flood uploads were still unanswered when it came."""

    answer: Answer
    flood_in_flight: int


@dataclass
class FloodResult:
    """Every flood upload's final answer, and the probes taken while the flood ran."""

    uploads: list[Answer] = field(default_factory=list)
    # How many times a flood upload was sent again after a 503.
    retried: int = 0
    health: list[Probe] = field(default_factory=list)
    small_uploads: list[Probe] = field(default_factory=list)


def timed(send: Callable[[], requests.Response]) -> Answer:
    """Send one request by calling ``send`` and time its answer; status 0 if it got
    none (a timeout or a closed connection)."""
    started = time.perf_counter()
    try:
        response = send()
    except requests.RequestException as exc:
        return Answer(0, {}, repr(exc), time.perf_counter() - started)
    return Answer.of(response, time.perf_counter() - started)


def health(base_url: str) -> Answer:
    """``GET /healthz`` on a new connection, timed."""
    return timed(lambda: requests.get(f"{base_url}/healthz", timeout=PROBE_TIMEOUT))


def image_upload(base_url: str, data: bytes, timeout: float = PROBE_TIMEOUT) -> Answer:
    """An upload of ``data`` on a new connection, timed (as ``support.client.upload``
    sends it, with this timeout)."""
    files = {"image": ("photo", data, "application/octet-stream")}
    return timed(lambda: requests.post(f"{base_url}/", files=files, timeout=timeout))


def flood(
    base_url: str,
    heic: bytes,
    jpeg: bytes,
    *,
    uploads: int,
    retries: int = 0,
    max_probes: int = 400,
) -> FloodResult:
    """``uploads`` HEIC uploads at once, each sent again up to ``retries`` times after a
    503's ``Retry-After`` (as the CLI does, jittered); meanwhile alternate a health check
    and a small JPEG upload until every flood upload has its final answer (at most
    ``max_probes`` pairs)."""
    result = FloodResult()
    lock = threading.Lock()
    unanswered = uploads
    jitter = random.Random(0)  # spreads the retries; seeded, so runs compare

    def one_heic() -> None:
        nonlocal unanswered
        answer = image_upload(base_url, heic, REQUEST_TIMEOUT)
        for _ in range(retries):
            if answer.status != 503:
                break
            with lock:
                result.retried += 1
                pause = float(answer.headers.get("Retry-After", "1")) * (1 + jitter.random() / 4)
            time.sleep(pause)
            answer = image_upload(base_url, heic, REQUEST_TIMEOUT)
        with lock:
            result.uploads.append(answer)
            unanswered -= 1

    with ThreadPoolExecutor(max_workers=uploads) as pool:
        futures = [pool.submit(one_heic) for _ in range(uploads)]
        for _ in range(max_probes):
            with lock:
                if unanswered == 0:
                    break
            checked = health(base_url)
            result.health.append(Probe(checked, unanswered))
            uploaded = image_upload(base_url, jpeg)
            result.small_uploads.append(Probe(uploaded, unanswered))
            time.sleep(PROBE_PAUSE_SECONDS)
        for future in futures:
            future.result(timeout=REQUEST_TIMEOUT * (retries + 1))
    return result


def latency_summary(answers: list[Answer]) -> str:
    """Median and worst latency of ``answers`` and their statuses, for a results table."""
    if not answers:
        return "no answers"
    seconds = [answer.seconds for answer in answers]
    statuses = sorted({answer.status for answer in answers})
    return (
        f"median {statistics.median(seconds):.2f} s, worst {max(seconds):.2f} s "
        f"({len(answers)} tries; statuses {', '.join(map(str, statuses))})"
    )
