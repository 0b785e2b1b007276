"""The EdgeCache port: forget the CDN's cached copies of a deleted image's URLs.

Image objects are served with a year-long immutable Cache-Control, and a ready share
page for a minute, so without this a deleted image would stay reachable at the edge for
as long as it had been cached.
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient


class EdgeCacheUnavailable(RuntimeError):
    """The CDN refused or did not answer; worth retrying later."""


class EdgeCache(ABC):
    """Caches in front of the image objects."""

    @abstractmethod
    def forget(self, paths: Sequence[str]) -> None:
        """Drop every cached answer for ``paths`` (``/...``; one ending in ``*`` covers
        every path it starts), all in one request.

        Raises ``EdgeCacheUnavailable`` when the CDN cannot be told.
        """


class NoEdgeCache(EdgeCache):
    """No CDN (local mode, or one that keeps nothing): nothing to forget."""

    def forget(self, paths: Sequence[str]) -> None:
        """Nothing is cached, so there is nothing to drop."""


class CloudFrontEdgeCache(EdgeCache):
    """A CloudFront distribution: one wildcard invalidation per prefix."""

    def __init__(self, client: "CloudFrontClient", distribution_id: str) -> None:
        self._client = client
        self._distribution_id = distribution_id

    def forget(self, paths: Sequence[str]) -> None:
        """Create one invalidation of ``paths`` (a wildcard path is billed as one).

        The paths are the caller reference too, so a retried delete does not pay for a
        second invalidation of the same paths.
        """
        listed = " ".join(paths)
        try:
            self._client.create_invalidation(
                DistributionId=self._distribution_id,
                InvalidationBatch={
                    "Paths": {"Quantity": len(paths), "Items": list(paths)},
                    "CallerReference": listed,
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise EdgeCacheUnavailable(
                f"CloudFront invalidation of {listed} on {self._distribution_id} failed: {exc}"
            ) from exc
