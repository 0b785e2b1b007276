"""What each role may do, scoped to the object keys the app itself writes.

The key patterns come from ``sharer.variants`` (the app's own key scheme), with ``*``
standing for the image id, so a grant cannot drift from the keys the code uses: the
server may write and delete originals but never a thumbnail, the worker may read
originals and write thumbnails but never delete anything, and neither may list keys
(the server's health check asks for the bucket's location instead).
"""

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from cdk.nag import grant_object_keys
from sharer.formats import ACCEPTED
from sharer.variants import VARIANTS, original_key, status_key, thumbnail_format, variant_key

ANY_ID = "*"
KEY_WILDCARD_REASON = (
    "Each * stands for the image id (128 random bits) in one key shape of the app's "
    "scheme (src/sharer/variants.py); no other key of the bucket is reachable."
)


def original_keys() -> list[str]:
    """Key patterns of every accepted original format."""
    return [original_key(ANY_ID, image_format) for image_format in ACCEPTED.values()]


def thumbnail_keys() -> list[str]:
    """Key patterns of every thumbnail, in both thumbnail formats (opaque and alpha)."""
    formats = {thumbnail_format(has_alpha) for has_alpha in (False, True)}
    return sorted(variant_key(ANY_ID, v, f) for v in VARIANTS for f in formats)


def grant_server(
    role: iam.Role, bucket: s3.IBucket, queue: sqs.IQueue, dead_letter_queue: sqs.IQueue
) -> None:
    """Store and remove originals, keep status records, queue jobs, answer /healthz."""
    _grant_image_keys(role, bucket, ["s3:PutObject", "s3:DeleteObject"], original_keys())
    _grant_image_keys(role, bucket, ["s3:PutObject", "s3:GetObject"], [status_key(ANY_ID)])
    # The health check: GetBucketLocation proves the bucket and the credentials without
    # the listing that HeadBucket would need (s3:ListBucket).
    role.add_to_policy(
        iam.PolicyStatement(actions=["s3:GetBucketLocation"], resources=[bucket.bucket_arn])
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["sqs:SendMessage", "sqs:GetQueueAttributes"], resources=[queue.queue_arn]
        )
    )
    # The health check asks both queues for an attribute.
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["sqs:GetQueueAttributes"], resources=[dead_letter_queue.queue_arn]
        )
    )


def grant_worker(
    role: iam.Role, bucket: s3.IBucket, queue: sqs.IQueue, dead_letter_queue: sqs.IQueue
) -> None:
    """Read originals, write thumbnails and status, consume jobs, dead-letter poison ones."""
    _grant_image_keys(role, bucket, ["s3:GetObject"], original_keys())
    _grant_image_keys(role, bucket, ["s3:PutObject"], thumbnail_keys())
    _grant_image_keys(role, bucket, ["s3:PutObject", "s3:GetObject"], [status_key(ANY_ID)])
    role.add_to_policy(
        iam.PolicyStatement(
            actions=[
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
            ],
            resources=[queue.queue_arn],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[dead_letter_queue.queue_arn])
    )


def _grant_image_keys(
    role: iam.Role, bucket: s3.IBucket, actions: list[str], keys: list[str]
) -> None:
    """``grant_object_keys`` for key patterns of the app's scheme (``*`` = an image id)."""
    grant_object_keys(role, bucket, actions, keys, KEY_WILDCARD_REASON)
