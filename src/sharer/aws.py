"""The one place boto3 clients are made, so every client gets the same endpoint and retries."""

from typing import TYPE_CHECKING, Any

import boto3.session
from botocore.config import Config

from sharer.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient
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


def s3_client(settings: Settings) -> "S3Client":
    """An S3 client for ``settings`` (endpoint override for moto, region, retries)."""
    return _session().client("s3", **_options(settings))


def sqs_client(settings: Settings) -> "SQSClient":
    """An SQS client for ``settings`` (endpoint override for moto, region, retries)."""
    return _session().client("sqs", **_options(settings))


def cloudfront_client(settings: Settings) -> "CloudFrontClient":
    """A CloudFront client for ``settings`` (endpoint override for moto, retries)."""
    return _session().client("cloudfront", **_options(settings))


def _session() -> boto3.session.Session:
    # boto3's default session is not thread-safe; a private one per client is.
    return boto3.session.Session()


def _options(settings: Settings) -> dict[str, Any]:
    return {
        "endpoint_url": settings.aws_endpoint_url,
        "region_name": settings.aws_region,
        "config": _CONFIG,
    }
