"""The media bucket (originals, thumbnails, status records) and the bucket its logs go to."""

import math

from aws_cdk import CfnDeletionPolicy, Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.nag import acknowledge, skip_checkov
from sharer.key_scheme import (
    EXPIRY_TAG,
    EXPIRY_TAG_DAYS,
    IDEMPOTENCY_PREFIX,
    IDEMPOTENCY_RETENTION_SECONDS,
)

# S3 expires whole days after the last write, rounded up to the next midnight UTC, so a
# record is kept at least its retention.
IDEMPOTENCY_RECORD_DAYS = math.ceil(IDEMPOTENCY_RETENTION_SECONDS / (24 * 60 * 60))


class ImageBucket(Construct):
    """A private, encrypted, TLS-only bucket with its server access logs kept apart.

    ``bucket`` holds ``images/<id>/...`` (served by CloudFront), ``status/<id>.json`` and
    the other records (never served); idempotency records expire after their retention.
    ``log_bucket`` receives S3 access logs, CloudFront logs, VPC flow logs
    and Image Builder build logs, each under its own prefix, and expires them. Names are
    left to CloudFormation, so stacks never collide. Both buckets outlive `cdk destroy` and
    a failed update, but a first deploy that rolls back deletes them (they are empty then),
    so a failed create leaves nothing behind.
    """

    def __init__(self, scope: Construct, construct_id: str, *, log_retention_days: int) -> None:
        super().__init__(scope, construct_id)
        self.log_bucket = s3.Bucket(
            self,
            "LogBucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            # CloudFront standard logging still writes with an ACL, so ACLs stay possible
            # here; the media bucket below enforces bucket-owner ownership.
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(log_retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        _retain_except_on_create(self.log_bucket)
        acknowledge(
            self.log_bucket,
            "AwsSolutions-S1",
            "This is the access-log destination; logging its own writes would loop.",
        )
        skip_checkov(
            self.log_bucket,
            "CKV_AWS_18",
            "This is the access-log destination; logging its own writes would loop.",
        )
        skip_checkov(
            self.log_bucket,
            "CKV_AWS_21",
            "Logs are written once by AWS services and expire with the lifecycle rule; "
            "versions would only keep expired logs past their retention.",
        )
        self.bucket = s3.Bucket(
            self,
            "MediaBucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="s3-access/",
            lifecycle_rules=[
                # The server PUTs originals of at most ~1 MiB in one request, but any
                # multipart upload left behind by a crash is removed a day later.
                s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(1)),
                # Idempotency records (sharer.idempotency_records) past their retention.
                s3.LifecycleRule(
                    prefix=IDEMPOTENCY_PREFIX,
                    expiration=Duration.days(IDEMPOTENCY_RECORD_DAYS),
                ),
                # The backstop of expiry (sharer.expiry): an object tagged with N days has
                # at most N days left when written, and goes a day after that, by when the
                # reaper has long removed it. Untagged objects (images that never expire)
                # match no rule.
                *(
                    s3.LifecycleRule(
                        tag_filters={EXPIRY_TAG: str(days)},
                        expiration=Duration.days(days + 1),
                    )
                    for days in EXPIRY_TAG_DAYS
                ),
            ],
            # Users' images outlive the stack: `cdk destroy` leaves the bucket behind.
            removal_policy=RemovalPolicy.RETAIN,
        )
        skip_checkov(
            self.bucket,
            "CKV_AWS_21",
            "Objects are written once and never overwritten, and a user's delete must remove "
            "the image: a versioned bucket would keep every deleted image as a version.",
        )
        _retain_except_on_create(self.bucket)


def _retain_except_on_create(bucket: s3.Bucket) -> None:
    # RemovalPolicy has no RetainExceptOnCreate; the L1 takes it. A bucket made by a create
    # that rolls back holds nothing anyone needs (CloudFormation DeletionPolicy attribute).
    resource = bucket.node.default_child
    assert isinstance(resource, s3.CfnBucket)
    resource.cfn_options.deletion_policy = CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE
