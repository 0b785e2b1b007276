"""The work queue and its dead-letter queue, with the numbers the worker must agree with."""

from aws_cdk import Duration
from constructs import Construct

from cdk.queue_pair import add_queue_pair

# A message is received this many times before SQS moves it to the dead-letter queue; the
# worker is told the same number (SHARER_MAX_RECEIVES) so it dead-letters on the last try.
MAX_RECEIVES = 5
# The worst job (a 50 MP PNG) fits well inside this, and the worker extends visibility
# while a job runs, so this only has to outlast a crashed worker's last extension, yet
# stay short enough that its message comes back soon
# (bench/results/design_measurements.md#worst-job-time).
VISIBILITY_TIMEOUT_SECONDS = 120
# Friday evening to Monday morning is under three days; a week leaves room for a long
# weekend. The DLQ keeps longer, because SQS keeps a message's original enqueue time.
RETENTION = Duration.days(7)
DEAD_LETTER_RETENTION = Duration.days(14)


class JobQueues(Construct):
    """``queue`` carries thumbnail jobs; ``dead_letter_queue`` keeps the poison ones."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.queue, self.dead_letter_queue = add_queue_pair(
            self,
            queue_id="WorkQueue",
            dead_letter_id="DeadLetterQueue",
            retention=RETENTION,
            dead_letter_retention=DEAD_LETTER_RETENTION,
            visibility_timeout_seconds=VISIBILITY_TIMEOUT_SECONDS,
            max_receives=MAX_RECEIVES,
        )
