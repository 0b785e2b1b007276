"""The 202 promise over real HTTP: files from the differential corpus (valid, odd and
mutated, every format), POSTed to the real server with a real worker, either get a 400
or become ready; none is accepted and then fails."""

from concurrent.futures import ThreadPoolExecutor

from server.inspection import InvalidImage, inspect_upload
from sharer.formats import SNIFF_BYTES, sniff
from support.client import upload_honouring_busy, wait_for_status
from support.mutations import CorpusFile, differential_corpus
from support.services import Service

# Mutants accepted under this cap are cheap for the worker too.
LOCAL_CAP = 1_000_000
PER_FORMAT_AND_VERDICT = 3


def _accepted_locally(item: CorpusFile) -> bool:
    try:
        inspect_upload(item.data, max_pixels=LOCAL_CAP)
    except InvalidImage:
        return False
    return True


def _sample() -> list[tuple[CorpusFile, bool]]:
    """A few accepted and a few refused mutants of each format, and one valid file each."""
    chosen: list[tuple[CorpusFile, bool]] = []
    taken: dict[tuple[str, bool, bool], int] = {}
    for item in differential_corpus(20):
        image_format = sniff(item.data[:SNIFF_BYTES])
        if image_format is None:
            continue
        accepted = _accepted_locally(item)
        key = (image_format.name, item.valid, accepted)
        limit = 1 if item.valid else PER_FORMAT_AND_VERDICT
        if taken.get(key, 0) < limit:
            taken[key] = taken.get(key, 0) + 1
            chosen.append((item, accepted))
    return chosen


def test_every_file_is_refused_or_becomes_ready(local: Service) -> None:
    sample = _sample()
    assert any(accepted for _, accepted in sample)
    assert any(not accepted for _, accepted in sample)
    with ThreadPoolExecutor(4) as pool:
        # Costly proofs beyond a process's slots are refused with 503 and Retry-After
        # (tests/hostile/test_proof_flood.py); the promise is about the answer after it.
        responses = list(
            pool.map(lambda pair: upload_honouring_busy(local.base_url, pair[0].data), sample)
        )
    outcomes: dict[str, str] = {}
    for (item, accepted), response in zip(sample, responses, strict=True):
        assert response.status_code == (202 if accepted else 400), item.name
        if response.status_code == 202:
            status = wait_for_status(local.base_url, response.headers["Location"])
            outcomes[item.name] = str(status["status"])
    assert outcomes
    assert {name: s for name, s in outcomes.items() if s != "ready"} == {}
