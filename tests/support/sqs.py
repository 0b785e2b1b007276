"""SQS as the tests set it up and look into it on moto: a work queue with its redrive
policy, and every message of a queue with the reason the worker gave it."""

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType
    from mypy_boto3_sqs.type_defs import MessageTypeDef

# Pages of 10 read before giving up on seeing more: a bound, not an expectation.
MAX_PAGES = 20


def create_work_queues(client: "SQSClient", name: str, *, max_receives: int) -> tuple[str, str]:
    """Create ``name`` and ``name-dead`` with SQS redrive after ``max_receives``; their URLs."""
    dead_url = client.create_queue(QueueName=f"{name}-dead")["QueueUrl"]
    dead_arn = client.get_queue_attributes(QueueUrl=dead_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    attributes: dict[QueueAttributeNameType, str] = {
        "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dead_arn, "maxReceiveCount": str(max_receives)}
        )
    }
    queue_url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return queue_url, dead_url


def receive_all(client: "SQSClient", queue_url: str) -> list["MessageTypeDef"]:
    """Every message visible in the queue, now hidden for 30 s (bounded: MAX_PAGES)."""
    taken: list[MessageTypeDef] = []
    for _ in range(MAX_PAGES):
        page = client.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=30,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not page:
            break
        taken.extend(page)
    return taken


def release(client: "SQSClient", queue_url: str, messages: list["MessageTypeDef"]) -> None:
    """Make ``messages`` visible again at once: looking must not consume."""
    for message in messages:
        client.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )


def reason_of(message: "MessageTypeDef") -> str | None:
    """The worker's dead-letter reason; None when SQS's redrive policy moved the message."""
    reason = message.get("MessageAttributes", {}).get("reason")
    return None if reason is None else reason.get("StringValue")


def peek(client: "SQSClient", queue_url: str) -> list[tuple[str, str | None]]:
    """Every message in the queue with its dead-letter reason, left in the queue."""
    messages = receive_all(client, queue_url)
    release(client, queue_url, messages)
    return [(m["Body"], reason_of(m)) for m in messages]
