"""What the service stored in S3 (moto), read with boto3 rather than over its public URL."""

import boto3

from support.services import FAKE_AWS_CREDENTIALS, Service


def stored_in_s3(service: Service, public_url: str) -> tuple[str, bytes]:
    """Content-Type and body of the object behind ``public_url`` (``<base>/<key>``)."""
    endpoint = service.env["SHARER_AWS_ENDPOINT_URL"]
    bucket = service.env["SHARER_STORAGE_URL"].removeprefix("s3://")
    base = service.env["SHARER_PUBLIC_BASE_URL"]
    assert public_url.startswith(f"{base}/")
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=FAKE_AWS_CREDENTIALS["AWS_REGION"],
        aws_access_key_id=FAKE_AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    stored = s3.get_object(Bucket=bucket, Key=public_url.removeprefix(f"{base}/"))
    return stored["ContentType"], stored["Body"].read()
