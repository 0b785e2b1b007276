"""A GET that S3 refuses with 403 is told apart as missing or forbidden by the key's own
listing, since S3 answers 403 for a missing key to a role that may not list the bucket.

Neither moto nor any local S3 reproduces that IAM-dependent answer, so S3's documented
replies are queued on a real boto3 client with botocore's Stubber.
"""

import boto3
import pytest
from botocore.stub import Stubber

from sharer.storage import ObjectNotFound, StorageUnavailable
from sharer.storage.s3 import S3Storage

BUCKET = "images-bucket"
KEY = "status/abc.json"


@pytest.fixture
def stubbed() -> tuple[S3Storage, Stubber]:
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return S3Storage(client, BUCKET), Stubber(client)


def _refuse_get_then_list(stubber: Stubber, listed: list[str]) -> None:
    """S3's answers: 403 to the GET, then the key's own listing holding ``listed``."""
    stubber.add_client_error(
        "get_object",
        service_error_code="AccessDenied",
        http_status_code=403,
        expected_params={"Bucket": BUCKET, "Key": KEY},
    )
    stubber.add_response(
        "list_objects_v2",
        {"KeyCount": len(listed), "IsTruncated": False, "Contents": [{"Key": k} for k in listed]},
        {"Bucket": BUCKET, "Prefix": KEY, "MaxKeys": 1},
    )


def test_a_refused_get_of_an_unlisted_key_is_not_found(
    stubbed: tuple[S3Storage, Stubber],
) -> None:
    storage, stubber = stubbed
    _refuse_get_then_list(stubber, [])
    with stubber, pytest.raises(ObjectNotFound):
        storage.get(KEY)
    stubber.assert_no_pending_responses()


def test_a_refused_get_of_a_listed_key_stays_a_refusal(
    stubbed: tuple[S3Storage, Stubber],
) -> None:
    storage, stubber = stubbed
    _refuse_get_then_list(stubber, [KEY])
    with stubber, pytest.raises(StorageUnavailable, match="AccessDenied") as refused:
        storage.get(KEY)
    assert not isinstance(refused.value, ObjectNotFound)
    stubber.assert_no_pending_responses()
