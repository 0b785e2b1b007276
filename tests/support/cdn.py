"""A CloudFront distribution on moto's server, to see the invalidations a delete makes."""

from typing import TYPE_CHECKING

import boto3

from support.services import FAKE_AWS_CREDENTIALS

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_cloudfront.type_defs import DistributionConfigTypeDef, OriginTypeDef


def cloudfront(endpoint: str) -> "CloudFrontClient":
    """A CloudFront client on moto at ``endpoint`` (never AWS)."""
    return boto3.client(
        "cloudfront",
        endpoint_url=endpoint,
        region_name=FAKE_AWS_CREDENTIALS["AWS_REGION"],
        aws_access_key_id=FAKE_AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def distribution_config(bucket: str) -> "DistributionConfigTypeDef":
    """The smallest enabled distribution moto accepts, in front of ``bucket``."""
    origin: OriginTypeDef = {
        "Id": "images",
        "DomainName": f"{bucket}.s3.amazonaws.com",
        "S3OriginConfig": {"OriginAccessIdentity": ""},
    }
    return {
        "CallerReference": bucket,
        "Comment": "",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [origin]},
        "DefaultCacheBehavior": {
            "TargetOriginId": "images",
            "ViewerProtocolPolicy": "https-only",
            "TrustedSigners": {"Enabled": False, "Quantity": 0},
            "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
            "MinTTL": 0,
        },
    }


def create_distribution(endpoint: str, bucket: str) -> str:
    """A distribution in front of ``bucket``; returns its id."""
    response = cloudfront(endpoint).create_distribution(
        DistributionConfig=distribution_config(bucket)
    )
    return str(response["Distribution"]["Id"])


def invalidated_paths(endpoint: str, distribution_id: str) -> list[str]:
    """Every path of every invalidation created on the distribution."""
    client = cloudfront(endpoint)
    listed = client.list_invalidations(DistributionId=distribution_id)["InvalidationList"]
    return [
        path
        for item in listed.get("Items", [])
        for path in client.get_invalidation(DistributionId=distribution_id, Id=item["Id"])[
            "Invalidation"
        ]["InvalidationBatch"]["Paths"]["Items"]
    ]
