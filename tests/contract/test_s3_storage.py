"""What only S3Storage promises: put_all's puts go out at once (one round trip, not one
each) and keep put_all's contract; the clients hold a connection for each of them."""

import dataclasses
import threading
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from contract.cases import BUCKET
from sharer.aws import WIDEST_PUT_ALL, s3_client, sqs_client
from sharer.backends import open_storage
from sharer.settings import CommonSettings
from sharer.storage.port import NewObject, ObjectNotFound, StorageUnavailable
from sharer.storage.s3 import S3Storage

THUMBNAILS = [NewObject(f"images/x/{name}.jpg", name.encode(), "image/jpeg") for name in "lms"]
BARRIER_TIMEOUT_SECONDS = 10.0


def storage_on(settings: CommonSettings) -> S3Storage:
    """The adapter as the backends module makes it, on a fresh bucket."""
    storage = open_storage(dataclasses.replace(settings, storage_url=f"s3://{BUCKET}"))
    assert isinstance(storage, S3Storage)
    storage._client.create_bucket(Bucket=BUCKET)
    return storage


def test_put_all_has_every_put_in_flight_at_once(moto_aws: CommonSettings) -> None:
    storage = storage_on(moto_aws)
    # Each put waits here until all three are in flight: one after another, it breaks.
    all_in_flight = threading.Barrier(len(THUMBNAILS), timeout=BARRIER_TIMEOUT_SECONDS)

    def wait_for_the_others(**_: Any) -> None:
        all_in_flight.wait()

    storage._client.meta.events.register("before-send.s3.PutObject", wait_for_the_others)

    storage.put_all(THUMBNAILS)

    assert [storage.get(item.key).body for item in THUMBNAILS] == [b"l", b"m", b"s"]


def test_a_failed_put_is_raised_after_the_others_have_ended(moto_aws: CommonSettings) -> None:
    storage = storage_on(moto_aws)
    failing = f"/{THUMBNAILS[1].key}"

    def refuse_one(params: dict[str, Any], **_: Any) -> None:
        if params["url_path"] == failing:
            raise EndpointConnectionError(endpoint_url="http://unreachable")

    storage._client.meta.events.register("before-call.s3.PutObject", refuse_one)

    with pytest.raises(StorageUnavailable, match=r"m\.jpg"):
        storage.put_all(THUMBNAILS)
    # Nothing was still running when put_all raised: the others are stored.
    assert storage.get(THUMBNAILS[0].key).body == b"l"
    assert storage.get(THUMBNAILS[2].key).body == b"s"


def test_a_refused_key_stops_put_all_before_anything_is_sent(moto_aws: CommonSettings) -> None:
    storage = storage_on(moto_aws)
    objects = [*THUMBNAILS[:2], NewObject("images/../escape.jpg", b"x", "image/jpeg")]

    with pytest.raises(ValueError, match="storage key"):
        storage.put_all(objects)
    for item in THUMBNAILS[:2]:
        with pytest.raises(ObjectNotFound):
            storage.get(item.key)


def test_clients_pool_a_connection_for_every_concurrent_call(moto_aws: CommonSettings) -> None:
    settings = dataclasses.replace(moto_aws, calling_threads=7)

    # botocore sets a Config's options as attributes the stubs do not declare.
    s3_config: Any = s3_client(settings).meta.config
    sqs_config: Any = sqs_client(settings).meta.config

    assert s3_config.max_pool_connections == 7 * WIDEST_PUT_ALL
    assert sqs_config.max_pool_connections == 7 + 1
    # The rest of the shared configuration is kept.
    assert s3_config.retries["mode"] == "standard"
    assert s3_config.read_timeout == sqs_config.read_timeout > 0
