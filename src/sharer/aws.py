"""The one place boto3 clients are made, so every client gets the same endpoint and retries."""

from typing import TYPE_CHECKING, Any

import boto3.session
from botocore.config import Config

from sharer.settings import CommonSettings
from sharer.thumbnail_sizes import THUMBNAIL_SIZES

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

# The longest SQS long poll any of our processes asks for; the read timeout must exceed it.
MAX_LONG_POLL_SECONDS = 4
# Standard mode retries throttling and transient errors with backoff. Every call, retries
# included (3 x (2 + 6) s plus backoff), must end well inside the server's 30 s request
# deadline, so a stalled backend becomes a 503 the client sees, never a cut connection.
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=MAX_LONG_POLL_SECONDS + 2,
)


# The most objects one put_all stores at once: a job's thumbnails.
WIDEST_PUT_ALL = len(THUMBNAIL_SIZES)


def s3_client(settings: CommonSettings) -> "S3Client":
    """An S3 client for ``settings`` (endpoint override for moto, region, retries), with
    a connection for each put of every calling thread's widest ``put_all``, so no call
    waits for a connection or opens one that the pool then throws away."""
    connections = settings.calling_threads * WIDEST_PUT_ALL
    return _session().client("s3", **_options(settings, connections))


def sqs_client(settings: CommonSettings) -> "SQSClient":
    """An SQS client for ``settings`` (endpoint override for moto, region, retries), with
    a connection for every calling thread and the worker's visibility heartbeat."""
    return _session().client("sqs", **_options(settings, settings.calling_threads + 1))


def cloudfront_client(settings: CommonSettings) -> "CloudFrontClient":
    """A CloudFront client for ``settings`` (endpoint override for moto, retries), with a
    connection for every calling thread (a delete makes one invalidation)."""
    return _session().client("cloudfront", **_options(settings, settings.calling_threads))


def dynamodb_client(settings: CommonSettings) -> "DynamoDBClient":
    """A DynamoDB client for ``settings`` (endpoint override for moto, retries), with a
    connection for every calling thread (an upload looks its key up, then charges)."""
    return _session().client("dynamodb", **_options(settings, settings.calling_threads))


def _session() -> boto3.session.Session:
    # boto3's default session is not thread-safe; a private one per client is.
    return boto3.session.Session()


def _options(settings: CommonSettings, connections: int) -> dict[str, Any]:
    return {
        "endpoint_url": settings.aws_endpoint_url,
        "region_name": settings.aws_region,
        "config": _CONFIG.merge(Config(max_pool_connections=connections)),
    }
