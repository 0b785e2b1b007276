"""The media bucket and its log bucket: private, encrypted, TLS-only, logged, tidy."""

from typing import Any

from aws_cdk.assertions import Capture, Match
from cdk_synthesis import Synthesized

from cdk.stack import LOG_RETENTION_DAYS
from sharer.key_scheme import IDEMPOTENCY_PREFIX, IDEMPOTENCY_RETENTION_SECONDS

BLOCK_ALL = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": True,
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}


ENFORCED = {"OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}}


def _policy_statements(synthesized: Synthesized, bucket_id: str) -> list[dict[str, Any]]:
    (policy,) = synthesized.template.find_resources(
        "AWS::S3::BucketPolicy", {"Properties": {"Bucket": {"Ref": bucket_id}}}
    ).values()
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_media_bucket_is_private_encrypted_and_logged(synthesized: Synthesized) -> None:
    log_bucket = Capture()
    synthesized.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            **ENFORCED,
            "PublicAccessBlockConfiguration": BLOCK_ALL,
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "LoggingConfiguration": {"DestinationBucketName": {"Ref": log_bucket}},
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}
                        )
                    ]
                )
            },
        },
    )
    media_id = synthesized.bucket_id("BucketOwnerEnforced")
    assert log_bucket.as_string() != media_id


def test_both_buckets_refuse_plain_http_and_nothing_is_public(synthesized: Synthesized) -> None:
    buckets = synthesized.resources("AWS::S3::Bucket")
    assert len(buckets) == 2
    for bucket_id, bucket in buckets.items():
        assert bucket["Properties"]["PublicAccessBlockConfiguration"] == BLOCK_ALL
        statements = _policy_statements(synthesized, bucket_id)
        assert {
            "Effect": "Deny",
            "Action": "s3:*",
            "Principal": {"AWS": "*"},
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }.items() <= next(s for s in statements if s["Effect"] == "Deny").items()
        for statement in statements:
            if statement["Effect"] == "Allow":
                assert "Service" in statement["Principal"], statement


def test_log_bucket_expires_logs(synthesized: Synthesized) -> None:
    synthesized.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]},
            "LifecycleConfiguration": {
                "Rules": [Match.object_like({"ExpirationInDays": LOG_RETENTION_DAYS})]
            },
        },
    )


def test_media_bucket_expires_idempotency_records_after_their_retention(
    synthesized: Synthesized,
) -> None:
    rule = Capture()
    synthesized.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            **ENFORCED,
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [Match.object_like({"Prefix": IDEMPOTENCY_PREFIX, "ExpirationInDays": rule})]
                )
            },
        },
    )
    # Whole days, which S3 rounds up to midnight UTC: never sooner than the retention.
    assert rule.as_number() * 24 * 60 * 60 >= IDEMPOTENCY_RETENTION_SECONDS
    # Users' images never expire unless uploaded to: the media bucket expires that prefix
    # and objects tagged as expiring alone (test_webhook_queues_and_lifecycle_backstop.py).
    media = synthesized.resources("AWS::S3::Bucket")[synthesized.bucket_id("BucketOwnerEnforced")]
    expiring = [
        r
        for r in media["Properties"]["LifecycleConfiguration"]["Rules"]
        if "ExpirationInDays" in r and not r.get("TagFilters")
    ]
    assert [r["Prefix"] for r in expiring] == [IDEMPOTENCY_PREFIX]


def test_lifecycle_buckets_delete_and_rollback_keep_them_except_after_a_failed_create(
    synthesized: Synthesized,
) -> None:
    # Lifecycle matrix, buckets, "rollback" and "delete" cells: a rolled-back first deploy
    # deletes both (empty) buckets; every later rollback, replacement and `cdk destroy`
    # keeps them.
    buckets = synthesized.resources("AWS::S3::Bucket")
    assert len(buckets) == 2
    for bucket in buckets.values():
        assert bucket["DeletionPolicy"] == "RetainExceptOnCreate"
        assert bucket["UpdateReplacePolicy"] == "Retain"
