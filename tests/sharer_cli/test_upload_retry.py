"""``sharer upload`` whose answer is lost after the server did the upload: its retry
carries the same Idempotency-Key, so it gets the first answer and no second image, on
both backend pairs (files and SQLite; S3 and SQS on moto's server)."""

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sharer.idempotency_records import decode_record, record_key
from sharer.storage import Storage
from sharer_cli.conftest import sharer
from support.faults import Fault, FaultProxy, ProxiedRequest, answer_lost
from support.images import jpeg
from support.services import Service, aws_service, local_service, service_storage


@pytest.fixture(scope="module", params=["local", "aws"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """A server and one worker on the backend pair named by the parameter."""
    workdir: Path = tmp_path_factory.mktemp(request.param)
    if request.param == "local":
        yield from local_service(workdir)
    else:
        yield from aws_service(workdir, bucket="cli-retry")


def _images(storage: Storage) -> int:
    """How many images the store has a status for."""
    return len(storage.list_keys("status/", limit=100_000))


def _first_posts(count: int, keys: list[str | None]) -> Callable[[ProxiedRequest], bool]:
    """A proxy rule that notes each POST's Idempotency-Key in ``keys`` and matches the
    first ``count`` POSTs."""

    def rule(request: ProxiedRequest) -> bool:
        if request.method != "POST":
            return False
        keys.append(request.headers.get("idempotency-key"))
        return len(keys) <= count

    return rule


def test_a_retry_after_a_lost_answer_makes_no_second_image(
    service: Service, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg((320, 240), seed=21))
    storage = service_storage(service)
    images_before = _images(storage)
    keys: list[str | None] = []

    with FaultProxy(service.base_url) as proxy:
        proxy.inject(_first_posts(1, keys), answer_lost())
        run = sharer("upload", "--server", proxy.url, "--json", "--attempts", "3", photo)

    assert run.code == 0, run.err
    (line,) = run.json_lines()
    assert line["status"] == 202
    # The server did the first upload; the retry (same key) was answered from its record.
    assert len(keys) == 2
    assert _images(storage) == images_before + 1
    assert keys[0] is not None
    assert keys[0] == keys[1]
    record = decode_record(storage.get(record_key(keys[0].strip('"'))).body)
    assert record.done
    assert str(line["share"]).endswith(f"/i/{record.image_id}")
    assert {name: line[name] for name in record.answer.body} == record.answer.body
    # The token went out with the lost answer only; the replay has none to give.
    assert "delete_token" not in line


def test_every_file_of_a_batch_gets_its_own_key(service: Service, tmp_path: Path) -> None:
    paths = []
    for seed in range(3):
        paths.append(tmp_path / f"p{seed}.jpg")
        paths[-1].write_bytes(jpeg((64, 48), seed=seed))
    keys: list[str] = []

    def record_keys(request: ProxiedRequest) -> bool:
        keys.append(request.headers.get("idempotency-key", ""))
        return False

    with FaultProxy(service.base_url) as proxy:
        proxy.inject(record_keys, answer_lost())
        run = sharer("upload", "--server", proxy.url, "--json", *paths)

    assert run.code == 0, run.err
    assert len(keys) == 3
    assert len(set(keys)) == 3
    assert all(key.startswith('"') and key.endswith('"') and len(key) == 38 for key in keys)


def test_an_upload_in_progress_is_awaited_past_the_attempts(
    service: Service, tmp_path: Path
) -> None:
    # A server killed mid-upload leaves its key "in progress": the others answer 409 with
    # Retry-After until a takeover is allowed. The CLI waits that out without spending
    # its attempts (here more 409s than --attempts), then gets the image accepted once.
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg((96, 64), seed=23))
    storage = service_storage(service)
    images_before = _images(storage)
    posts: list[str | None] = []
    in_progress = json.dumps({"error": "an upload with this key is in progress"}).encode()

    with FaultProxy(service.base_url) as proxy:
        proxy.inject(
            _first_posts(4, posts),
            Fault(409, in_progress, "application/json", headers=(("Retry-After", "0"),)),
        )
        run = sharer("upload", "--server", proxy.url, "--json", "--attempts", "2", photo)

    assert run.code == 0, run.err
    (line,) = run.json_lines()
    assert line["status"] == 202
    assert len(posts) == 5
    assert len(set(posts)) == 1
    assert _images(storage) == images_before + 1
