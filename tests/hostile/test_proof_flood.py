"""Issue 25, item 2: a flood of phone photos must not starve the health check.

The server runs as gunicorn with one process of four threads and one costly-proof slot.
Many HEIC uploads at once from one client (under the per-client connection bound):
beyond the slot they are refused at once with a JSON 503 and ``Retry-After``, and the
health check and a small JPEG upload are answered while the flood is still in flight.
"""

from collections.abc import Iterator

import pytest

from support.images import jpeg
from support.proof_flood import FloodResult, flood, phone_heic
from support.services import Service, local_service

FLOOD_UPLOADS = 24


@pytest.fixture(scope="module")
def bounded_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One gunicorn process, four threads, one costly proof at a time; no worker (the
    uploads only need to be accepted)."""
    yield from local_service(
        tmp_path_factory.mktemp("proof-flood"),
        workers=0,
        env={
            "SHARER_SERVER_PROCESSES": "1",
            "SHARER_SERVER_THREADS": "4",
            "SHARER_COSTLY_PROOFS_PER_PROCESS": "1",
        },
    )


@pytest.fixture(scope="module")
def flooded(bounded_service: Service) -> FloodResult:
    """The flood's answers and the probes taken meanwhile."""
    return flood(
        bounded_service.base_url,
        phone_heic((2000, 1500)),
        jpeg((64, 48)),
        uploads=FLOOD_UPLOADS,
    )


def test_uploads_beyond_the_bound_get_a_fast_503_with_retry_after(
    flooded: FloodResult, bounded_service: Service
) -> None:
    statuses = sorted(answer.status for answer in flooded.uploads)
    assert len(statuses) == FLOOD_UPLOADS
    assert set(statuses) <= {202, 503}, statuses
    assert 202 in statuses, "the bound must let some photos through"
    refused = [answer for answer in flooded.uploads if answer.status == 503]
    assert refused, "no upload was refused: the costly proofs are not bounded"
    for answer in refused:
        assert answer.headers["Retry-After"] == "1"
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.error is not None
        assert "busy" in answer.error
    logged = {
        record["request_id"]
        for record in bounded_service.logs("server")
        if record.get("msg") == "costly proofs busy"
    }
    assert {answer.headers["X-Request-Id"] for answer in refused} <= logged


def test_health_and_a_small_upload_answer_while_the_flood_runs(
    flooded: FloodResult,
) -> None:
    during = [probe for probe in flooded.health if probe.flood_in_flight > 0]
    assert during, "the flood ended before the health check was answered once"
    assert all(probe.answer.status == 200 for probe in flooded.health)
    uploads_during = [probe for probe in flooded.small_uploads if probe.flood_in_flight > 0]
    assert uploads_during, "the flood ended before a small upload was answered once"
    assert all(probe.answer.status == 202 for probe in flooded.small_uploads)
