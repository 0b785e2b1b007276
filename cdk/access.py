"""What each role may do, scoped to the object keys the app itself writes.

The key patterns come from ``sharer.key_scheme`` (the app's own key scheme), with ``*``
standing for the image id, so a grant cannot drift from the keys the code uses: the
server may write originals but never a thumbnail, the worker may read originals and
write thumbnails (and their variants) but never write an original. Both may delete an
image's objects (the server for a delete, the worker to undo a job that lost the race
to one). Neither may list the bucket: only the prefixes of status records, pending
markers and tombstones (and the server its idempotency records), so that a missing
record can be told from a forbidden one (``S3Storage.exists``) and the reconciler can
find images left pending.
"""

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from cdk.nag import grant_object_keys
from sharer.formats import ACCEPTED, thumbnail_format
from sharer.key_scheme import (
    EXPIRING_PREFIX,
    idempotency_record_key,
    original_key,
    pending_key,
    status_key,
    thumbnail_key,
    tombstone_key,
    variant_key,
)
from sharer.thumbnail_sizes import THUMBNAIL_SIZES
from sharer.thumbnail_variants import variants_of

ANY_ID = "*"
KEY_WILDCARD_REASON = (
    "Each * stands for the image id (128 random bits) in one key shape of the app's "
    "scheme (src/sharer/key_scheme.py); no other key of the bucket is reachable."
)


# What a process consuming a queue does to it: receive, delete when done, hide a message
# until its retry, and read its attributes (depth, for the self-check).
QUEUE_CONSUMER_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
)


def original_keys() -> list[str]:
    """Key patterns of every accepted original format."""
    return [original_key(ANY_ID, image_format) for image_format in ACCEPTED.values()]


def thumbnail_keys() -> list[str]:
    """Key patterns of every thumbnail, in both thumbnail formats (opaque and alpha), and
    of their variants (``sharer.thumbnail_variants``)."""
    formats = {thumbnail_format(has_alpha) for has_alpha in (False, True)}
    keys = {thumbnail_key(ANY_ID, s, f) for s in THUMBNAIL_SIZES for f in formats}
    variants = {
        variant_key(thumbnail_key(ANY_ID, s, f), variant)
        for s in THUMBNAIL_SIZES
        for f in formats
        for variant in variants_of(f, s.name)
    }
    return sorted(keys | variants)


def record_prefixes() -> list[str]:
    """The prefixes of the records both roles look up by listing: status, pending, deleted."""
    return _prefixes([status_key(ANY_ID), pending_key(ANY_ID), tombstone_key(ANY_ID)])


def expiring_keys() -> list[str]:
    """Key pattern of the expiry index (``sharer.expiry``): ``*`` is a time and an id."""
    return [f"{EXPIRING_PREFIX}{ANY_ID}"]


def server_record_prefixes() -> list[str]:
    """The server's record prefixes: the shared ones, its idempotency records (its
    reconciler sweeps them, and a missing one is told from a forbidden one) and the
    expiry index (its reconciler reaps from it)."""
    return sorted(record_prefixes() + _prefixes([idempotency_record_key(ANY_ID), *expiring_keys()]))


def _prefixes(keys: list[str]) -> list[str]:
    return sorted({key.split("/", 1)[0] + "/" for key in keys})


def image_object_keys() -> list[str]:
    """Every object key of an image: its original in any format and its thumbnails."""
    return original_keys() + thumbnail_keys()


def grant_server(
    role: iam.Role, bucket: s3.IBucket, queue: sqs.IQueue, dead_letter_queue: sqs.IQueue
) -> None:
    """Store originals, keep status records, pending markers, tombstones and idempotency
    records, delete an image's objects, queue jobs (uploads and the reconciler), answer
    /healthz."""
    # PutObjectTagging: an expiring image's objects carry the lifecycle tag.
    _grant_image_keys(role, bucket, ["s3:PutObject", "s3:PutObjectTagging"], original_keys())
    _grant_image_keys(role, bucket, ["s3:DeleteObject"], image_object_keys())
    _grant_image_keys(
        role,
        bucket,
        ["s3:PutObject", "s3:PutObjectTagging", "s3:GetObject", "s3:DeleteObject"],
        [status_key(ANY_ID), pending_key(ANY_ID), *expiring_keys()],
    )
    _grant_image_keys(role, bucket, ["s3:PutObject", "s3:GetObject"], [tombstone_key(ANY_ID)])
    # Idempotency records: created (conditionally), read, marked done, removed on a 503.
    _grant_image_keys(
        role,
        bucket,
        ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
        [idempotency_record_key(ANY_ID)],
    )
    _grant_record_listing(role, bucket, server_record_prefixes())
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


def grant_server_quotas(role: iam.Role, table: dynamodb.ITable) -> None:
    """Look API keys up and charge quota counters (``sharer.api_keys``,
    ``sharer.quota_counters``): reads and updates of items, never a scan or a delete.
    Operators make and revoke keys with their own credentials (``sharer-admin``)."""
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["dynamodb:GetItem", "dynamodb:UpdateItem"], resources=[table.table_arn]
        )
    )


def grant_worker(
    role: iam.Role, bucket: s3.IBucket, queue: sqs.IQueue, dead_letter_queue: sqs.IQueue
) -> None:
    """Read originals, write thumbnails and status, clear pending markers, undo a job
    that a delete overtook, consume jobs, dead-letter poison ones, and self-check."""
    _grant_image_keys(role, bucket, ["s3:GetObject"], original_keys())
    _grant_image_keys(role, bucket, ["s3:PutObject", "s3:PutObjectTagging"], thumbnail_keys())
    _grant_image_keys(role, bucket, ["s3:DeleteObject"], image_object_keys())
    _grant_image_keys(
        role,
        bucket,
        ["s3:PutObject", "s3:PutObjectTagging", "s3:GetObject", "s3:DeleteObject"],
        [status_key(ANY_ID)],
    )
    _grant_image_keys(role, bucket, ["s3:DeleteObject"], [pending_key(ANY_ID)])
    _grant_record_listing(role, bucket, record_prefixes())
    role.add_to_policy(
        iam.PolicyStatement(
            actions=list(QUEUE_CONSUMER_ACTIONS),
            resources=[queue.queue_arn],
        )
    )
    # The self-check a new worker passes before it signals (worker.self_check) asks the
    # dead-letter queue for an attribute too: a worker that cannot reach it cannot
    # put a poison job aside.
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["sqs:SendMessage", "sqs:GetQueueAttributes"],
            resources=[dead_letter_queue.queue_arn],
        )
    )


def grant_webhook_events(role: iam.IRole, webhook_queue: sqs.IQueue) -> None:
    """Queue webhook events: the worker (ready, failed), the server (deleted, and its
    reconciler and ``sharer-admin``: expired, taken down)."""
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[webhook_queue.queue_arn])
    )


def grant_webhook_delivery(
    role: iam.IRole, webhook_queue: sqs.IQueue, webhook_dead_letter_queue: sqs.IQueue
) -> None:
    """``sharer-webhooks`` (on the servers): consume events, hide one until its retry,
    dead-letter one whose retries are over."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=list(QUEUE_CONSUMER_ACTIONS),
            resources=[webhook_queue.queue_arn],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["sqs:SendMessage"], resources=[webhook_dead_letter_queue.queue_arn]
        )
    )


def _grant_record_listing(role: iam.Role, bucket: s3.IBucket, prefixes: list[str]) -> None:
    """s3:ListBucket for ``prefixes`` alone (the ``s3:prefix`` condition key)."""
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}},
        )
    )


def _grant_image_keys(
    role: iam.Role, bucket: s3.IBucket, actions: list[str], keys: list[str]
) -> None:
    """``grant_object_keys`` for key patterns of the app's scheme (``*`` = an image id)."""
    grant_object_keys(role, bucket, actions, keys, KEY_WILDCARD_REASON)
