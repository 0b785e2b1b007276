"""The EdgeCache port: forget the CDN's cached copies of a deleted image's objects.

Image objects are served with a year-long immutable Cache-Control, so without this a
deleted image would stay reachable at the edge for as long as it had been cached.
"""

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient


class EdgeCacheUnavailable(RuntimeError):
    """The CDN refused or did not answer; worth retrying later."""


class EdgeCache(ABC):
    """Caches in front of the image objects."""

    @abstractmethod
    def forget(self, path_prefix: str) -> None:
        """Drop every cached object whose URL path starts with ``path_prefix`` (``/...``).

        Raises ``EdgeCacheUnavailable`` when the CDN cannot be told.
        """


class NoEdgeCache(EdgeCache):
    """No CDN (local mode, or one that keeps nothing): nothing to forget."""

    def forget(self, path_prefix: str) -> None:
        """Nothing is cached, so there is nothing to drop."""


class CloudFrontEdgeCache(EdgeCache):
    """A CloudFront distribution: one wildcard invalidation per prefix."""

    def __init__(self, client: "CloudFrontClient", distribution_id: str) -> None:
        self._client = client
        self._distribution_id = distribution_id

    def forget(self, path_prefix: str) -> None:
        """Create an invalidation of ``<prefix>*`` (a wildcard path is billed as one).

        The prefix is the caller reference too, so a retried delete does not pay for a
        second invalidation of the same prefix.
        """
        try:
            self._client.create_invalidation(
                DistributionId=self._distribution_id,
                InvalidationBatch={
                    "Paths": {"Quantity": 1, "Items": [f"{path_prefix}*"]},
                    "CallerReference": path_prefix,
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise EdgeCacheUnavailable(
                f"CloudFront invalidation of {path_prefix}* on {self._distribution_id} "
                f"failed: {exc}"
            ) from exc
