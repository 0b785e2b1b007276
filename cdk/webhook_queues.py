"""The webhook events' own queue and its dead-letter queue (``sharer-webhooks`` consumes).

Events wait here apart from thumbnail jobs, so a slow or failing receiver never holds up
a thumbnail. ``sharer-webhooks`` retries an event by hiding it (exponential backoff with
jitter, at most an hour) and dead-letters it itself once its day of retries is over;
the redrive policy is only a backstop for an event that crashes the process each time.
"""

from aws_cdk import Duration
from constructs import Construct

from cdk.queue_pair import add_queue_pair

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
        self.queue, self.dead_letter_queue = add_queue_pair(
            self,
            queue_id="WebhookQueue",
            dead_letter_id="WebhookDeadLetterQueue",
            retention=WEBHOOK_RETENTION,
            dead_letter_retention=WEBHOOK_DEAD_LETTER_RETENTION,
            visibility_timeout_seconds=WEBHOOK_VISIBILITY_TIMEOUT_SECONDS,
            max_receives=WEBHOOK_MAX_RECEIVES,
        )
