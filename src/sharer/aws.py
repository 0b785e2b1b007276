"""The one place boto3 clients are made, so every client gets the same endpoint and retries."""

from typing import TYPE_CHECKING, Any

import boto3.session
from botocore.config import Config

from sharer.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

# Standard mode retries throttling and transient errors with backoff; a short connect
# timeout makes an unreachable endpoint fail fast, while the read timeout stays above
# SQS's 20 s long poll.
_CONFIG = Config(retries={"mode": "standard"}, connect_timeout=5, read_timeout=60)


def s3_client(settings: Settings) -> "S3Client":
    """An S3 client for ``settings`` (endpoint override for moto, region, retries)."""
    return _session().client("s3", **_options(settings))


def sqs_client(settings: Settings) -> "SQSClient":
    """An SQS client for ``settings`` (endpoint override for moto, region, retries)."""
    return _session().client("sqs", **_options(settings))


def _session() -> boto3.session.Session:
    # boto3's default session is not thread-safe; a private one per client is.
    return boto3.session.Session()


def _options(settings: Settings) -> dict[str, Any]:
    return {
        "endpoint_url": settings.aws_endpoint_url,
        "region_name": settings.aws_region,
        "config": _CONFIG,
    }
