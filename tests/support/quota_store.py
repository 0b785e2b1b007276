"""The quota store's DynamoDB table on a moto server, shaped as cdk/quota_table.py makes
it: one string partition key ``pk``, on-demand, with its TTL attribute."""

import boto3

from sharer.quota_counters import EXPIRES_ATTRIBUTE
from support.services import FAKE_AWS_CREDENTIALS


def create_quota_table(endpoint: str, table: str) -> None:
    """Create ``table`` on the moto server at ``endpoint``."""
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=FAKE_AWS_CREDENTIALS["AWS_REGION"],
        aws_access_key_id=FAKE_AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": EXPIRES_ATTRIBUTE},
    )
