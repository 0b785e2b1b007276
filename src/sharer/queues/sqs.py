"""The work queue on Amazon SQS (a standard queue with a redrive policy to a DLQ).

The redrive policy (``maxReceiveCount``) lives on the queue itself, set by the CDK stack
(or by the test fixtures on moto); this adapter only moves a message by hand when the
worker knows it can never succeed.

A stale receipt (its message was delivered again, or is gone) is not an outage: SQS
documents a DeleteMessage with an old receipt handle as succeeding, and answers a
ChangeMessageVisibility with one with an error naming the handle. Both do nothing here,
as on the SQLite queue: the message's current holder keeps it, and the caller is not told
(at-least-once: the job is done again at worst).
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from sharer.queues.port import Delivery, Queue, QueueUnavailable

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger("sharer.queue")

# The errors SQS gives for a receipt handle that no longer holds its message.
_STALE_RECEIPT_CODES = frozenset(
    {"ReceiptHandleIsInvalid", "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight"}
)

# SQS's own limits for one ReceiveMessage call.
_MAX_BATCH = 10
_MAX_WAIT_SECONDS = 20


class SqsQueue(Queue):
    """The Queue port on SQS; the client is thread-safe, so one instance serves all threads."""

    def __init__(
        self,
        client: "SQSClient",
        queue_url: str,
        dead_letter_queue_url: str,
        *,
        visibility_timeout: int,
    ) -> None:
        self._client = client
        self._queue_url = queue_url
        self._dead_letter_queue_url = dead_letter_queue_url
        self._visibility_timeout = visibility_timeout

    def send(self, body: str) -> None:
        """Send the message; SQS has stored it redundantly once this returns."""
        with self._errors("send"):
            self._client.send_message(QueueUrl=self._queue_url, MessageBody=body)

    def receive(self, max_messages: int, wait_seconds: float) -> list[Delivery]:
        """Long-poll; SQS takes whole seconds (rounded down, so never longer than asked)."""
        with self._errors("receive"):
            response = self._client.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=min(max(max_messages, 1), _MAX_BATCH),
                WaitTimeSeconds=min(max(int(wait_seconds), 0), _MAX_WAIT_SECONDS),
                VisibilityTimeout=self._visibility_timeout,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            )
        return [
            Delivery(
                body=message["Body"],
                receipt=message["ReceiptHandle"],
                receive_count=int(message["Attributes"]["ApproximateReceiveCount"]),
            )
            for message in response.get("Messages", [])
        ]

    def delete(self, receipt: str) -> None:
        """Delete the message received with ``receipt``; a stale receipt does nothing."""
        with self._errors("delete", stale_receipt_is_fine=True):
            self._client.delete_message(QueueUrl=self._queue_url, ReceiptHandle=receipt)

    def change_visibility(self, receipt: str, seconds: int) -> None:
        """Hide the message ``seconds`` from now (0 makes it visible at once); a stale
        receipt does nothing."""
        with self._errors("change visibility", stale_receipt_is_fine=True):
            self._client.change_message_visibility(
                QueueUrl=self._queue_url, ReceiptHandle=receipt, VisibilityTimeout=seconds
            )

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Send the body to the DLQ with a ``reason`` attribute, then delete the original.

        If the delete fails after the send, the message is in both queues; it comes back
        and is dead-lettered again, so the DLQ may hold a duplicate but nothing is lost.
        """
        with self._errors("dead-letter"):
            self._client.send_message(
                QueueUrl=self._dead_letter_queue_url,
                MessageBody=delivery.body,
                MessageAttributes={
                    "reason": {"DataType": "String", "StringValue": reason},
                    "receive_count": {
                        "DataType": "Number",
                        "StringValue": str(delivery.receive_count),
                    },
                },
            )
            self._client.delete_message(QueueUrl=self._queue_url, ReceiptHandle=delivery.receipt)

    def check(self) -> None:
        """Both the queue and its dead-letter queue exist and answer."""
        with self._errors("check"):
            for url in (self._queue_url, self._dead_letter_queue_url):
                self._client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])

    @contextmanager
    def _errors(self, action: str, *, stale_receipt_is_fine: bool = False) -> Iterator[None]:
        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "")
            if stale_receipt_is_fine and _is_stale_receipt(code, error.get("Message", "")):
                # Told to the operator, not the caller: see the module's docstring.
                log.info("stale receipt ignored", extra={"action": action, "code": code})
                return
            raise QueueUnavailable(f"SQS {action} on {self._queue_url} failed: {code}") from exc
        except BotoCoreError as exc:
            raise QueueUnavailable(f"SQS {action} on {self._queue_url} failed: {exc}") from exc


def _is_stale_receipt(code: str, message: str) -> bool:
    """Whether an SQS error says the receipt handle no longer holds its message."""
    if code in _STALE_RECEIPT_CODES:
        return True
    # An expired handle comes back as a bad parameter value naming the handle.
    return code == "InvalidParameterValue" and "receipt handle has expired" in message.lower()
