"""The work queue and its dead-letter queue."""

from aws_cdk.assertions import Capture
from cdk_synthesis import Synthesized

from cdk.job_queues import MAX_RECEIVES, VISIBILITY_TIMEOUT_SECONDS

WEEKEND_SECONDS = 3 * 24 * 3600


def test_work_queue_redrives_to_the_dead_letter_queue(synthesized: Synthesized) -> None:
    dead_letter = Capture()
    retention = Capture()
    synthesized.template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": [dead_letter, "Arn"]},
                "maxReceiveCount": MAX_RECEIVES,
            },
            "SqsManagedSseEnabled": True,
            "VisibilityTimeout": VISIBILITY_TIMEOUT_SECONDS,
            "MessageRetentionPeriod": retention,
        },
    )
    dlq = synthesized.resources("AWS::SQS::Queue")[dead_letter.as_string()]["Properties"]
    assert retention.as_number() >= WEEKEND_SECONDS
    # SQS keeps a message's first enqueue time when it is dead-lettered.
    assert dlq["MessageRetentionPeriod"] > retention.as_number()
    assert dlq["SqsManagedSseEnabled"] is True
    assert "RedrivePolicy" not in dlq


def test_both_queues_refuse_plain_http(synthesized: Synthesized) -> None:
    queues = set(synthesized.resources("AWS::SQS::Queue"))
    guarded: set[str] = set()
    for policy in synthesized.resources("AWS::SQS::QueuePolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        )
        guarded.update(q["Ref"] for q in policy["Properties"]["Queues"])
    assert guarded == queues
