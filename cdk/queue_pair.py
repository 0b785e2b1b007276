"""A queue with its dead-letter queue, as every queue pair of the stack is made: encrypted
with SQS-managed keys, TLS only, long polling, a redrive after ``max_receives``."""

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.nag import skip_checkov


def add_queue_pair(
    scope: Construct,
    *,
    queue_id: str,
    dead_letter_id: str,
    retention: Duration,
    dead_letter_retention: Duration,
    visibility_timeout_seconds: int,
    max_receives: int,
) -> tuple[sqs.Queue, sqs.Queue]:
    """The queue and its dead-letter queue, created in ``scope`` under the given ids
    (kept as they are: a changed id replaces a deployed queue and loses its messages)."""
    dead_letter_queue = sqs.Queue(
        scope,
        dead_letter_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=dead_letter_retention,
    )
    queue = sqs.Queue(
        scope,
        queue_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=retention,
        visibility_timeout=Duration.seconds(visibility_timeout_seconds),
        receive_message_wait_time=Duration.seconds(20),
        dead_letter_queue=sqs.DeadLetterQueue(
            queue=dead_letter_queue, max_receive_count=max_receives
        ),
    )
    for made in (queue, dead_letter_queue):
        skip_checkov(
            made,
            "CKV_AWS_27",
            "A false positive: the queue is encrypted at rest with SQS-managed keys "
            "(SqsManagedSseEnabled); checkov only recognises a KMS key.",
        )
    return queue, dead_letter_queue
