"""The webhook events' own queue and its dead-letter queue (``sharer-webhooks`` consumes).

Events wait here apart from thumbnail jobs, so a slow or failing receiver never holds up
a thumbnail. ``sharer-webhooks`` retries an event by hiding it (exponential backoff with
jitter, at most an hour) and dead-letters it itself once its day of retries is over;
the redrive policy is only a backstop for an event that crashes the process each time.
"""

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.nag import skip_checkov

# Far more receives than a day of retries takes (an hour apart at most, after the first
# doublings), so SQS never moves an event the delivery process still retries.
WEBHOOK_MAX_RECEIVES = 100
# One delivery attempt (connect and answer timeouts) fits well inside this.
WEBHOOK_VISIBILITY_TIMEOUT_SECONDS = 60
# A day of retries, with room for a weekend outage of the delivery process itself.
WEBHOOK_RETENTION = Duration.days(4)
WEBHOOK_DEAD_LETTER_RETENTION = Duration.days(14)


class WebhookQueues(Construct):
    """``queue`` carries webhook events; ``dead_letter_queue`` keeps the undeliverable."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "WebhookDeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=WEBHOOK_DEAD_LETTER_RETENTION,
        )
        self.queue = sqs.Queue(
            self,
            "WebhookQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=WEBHOOK_RETENTION,
            visibility_timeout=Duration.seconds(WEBHOOK_VISIBILITY_TIMEOUT_SECONDS),
            receive_message_wait_time=Duration.seconds(20),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=WEBHOOK_MAX_RECEIVES
            ),
        )
        for queue in (self.queue, self.dead_letter_queue):
            skip_checkov(
                queue,
                "CKV_AWS_27",
                "A false positive: the queue is encrypted at rest with SQS-managed keys "
                "(SqsManagedSseEnabled); checkov only recognises a KMS key.",
            )
