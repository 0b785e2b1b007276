"""The stack's side of webhooks and expiry: the webhook queue and its dead-letter queue,
who may use them, the delivery process started at boot, and the bucket's lifecycle
backstop that removes only objects of expiring images."""

import re
import tomllib

from cdk_synthesis import REPO_ROOT, Synthesized, agent_log_groups, grants

from cdk.logs import WEBHOOKS_LOG_FILE, log_file
from cdk.webhook_queues import WEBHOOK_MAX_RECEIVES, WEBHOOK_VISIBILITY_TIMEOUT_SECONDS
from sharer.backends import WEBHOOK_VISIBILITY_SECONDS
from sharer.key_scheme import EXPIRY_TAG, EXPIRY_TAG_DAYS
from sharer.settings import LONGEST_EXPIRES_SECONDS

DAY_SECONDS = 24 * 60 * 60
START_ROLE = REPO_ROOT / "image-builder" / "scripts" / "sharer-start-role.sh"


def test_webhook_events_wait_a_day_and_more_and_redrive_to_their_own_queue(
    synthesized: Synthesized,
) -> None:
    queue, dead_letter = synthesized.webhook_queue_ids()
    assert (queue, dead_letter) != synthesized.queue_ids()
    properties = synthesized.resource(queue)["Properties"]
    assert properties["RedrivePolicy"]["maxReceiveCount"] == WEBHOOK_MAX_RECEIVES
    # Standard Webhooks: retries for at least a day.
    assert properties["MessageRetentionPeriod"] > DAY_SECONDS
    assert properties["VisibilityTimeout"] == WEBHOOK_VISIBILITY_TIMEOUT_SECONDS
    assert WEBHOOK_VISIBILITY_SECONDS == WEBHOOK_VISIBILITY_TIMEOUT_SECONDS
    dlq = synthesized.resource(dead_letter)["Properties"]
    assert dlq["MessageRetentionPeriod"] > properties["MessageRetentionPeriod"]
    assert dlq["SqsManagedSseEnabled"] is True


def test_both_roles_queue_events_and_only_the_servers_deliver_them(
    synthesized: Synthesized,
) -> None:
    queue, dead_letter = synthesized.webhook_queue_ids()
    worker = grants(synthesized, synthesized.role_id("worker"))
    server = grants(synthesized, synthesized.role_id("server"))
    assert f"<{queue}.Arn>" in worker["sqs:SendMessage"]
    assert f"<{queue}.Arn>" not in worker["sqs:ReceiveMessage"]
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"):
        assert f"<{queue}.Arn>" in server[action]
    assert f"<{dead_letter}.Arn>" in server["sqs:SendMessage"]


def test_both_roles_are_told_the_webhook_queues(synthesized: Synthesized) -> None:
    queue, dead_letter = synthesized.webhook_queue_ids()
    for role in ("worker", "server"):
        settings = synthesized.settings(role)
        assert settings["SHARER_WEBHOOK_QUEUE_URL"] == f"<{queue}>"
        assert settings["SHARER_WEBHOOK_DEAD_LETTER_QUEUE_URL"] == f"<{dead_letter}>"


def test_webhook_delivery_logs_ship_with_the_servers(synthesized: Synthesized) -> None:
    groups = agent_log_groups(synthesized)
    assert groups[WEBHOOKS_LOG_FILE] == groups[log_file("server")]
    unit = (REPO_ROOT / "image-builder" / "systemd" / "sharer@.service").read_text()
    assert "StandardOutput=append:/var/log/sharer/%i.log" in unit
    assert log_file("webhooks") == WEBHOOKS_LOG_FILE


def test_each_server_starts_webhook_delivery_at_boot() -> None:
    start_role = START_ROLE.read_text()
    assert re.search(
        r'if \[ "\$role" = server \]; then\n\s+systemctl enable --now --no-block '
        r"sharer@webhooks\.service",
        start_role,
    )
    # sharer@.service runs /opt/sharer/venv/bin/sharer-%i: the console script must exist.
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["sharer-webhooks"] == "webhook_delivery.__main__:main"


def test_the_lifecycle_backstop_removes_only_tagged_objects_after_their_expiry(
    synthesized: Synthesized,
) -> None:
    media = synthesized.bucket_id("BucketOwnerEnforced")
    rules = synthesized.resource(media)["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = {
        rule["TagFilters"][0]["Value"]: rule["ExpirationInDays"]
        for rule in rules
        if rule.get("TagFilters")
    }
    assert expiring == {str(days): days + 1 for days in EXPIRY_TAG_DAYS}
    assert all(
        rule["TagFilters"] == [{"Key": EXPIRY_TAG, "Value": rule["TagFilters"][0]["Value"]}]
        for rule in rules
        if rule.get("TagFilters")
    )
    # No rule that expires objects matches an untagged image object: each has a tag or a
    # prefix outside images/.
    for rule in rules:
        if "ExpirationInDays" in rule and not rule.get("TagFilters"):
            assert rule.get("Prefix")
            assert not rule["Prefix"].startswith("images/")
    # The longest expiry the settings allow is covered by a tag.
    assert max(EXPIRY_TAG_DAYS) * DAY_SECONDS >= LONGEST_EXPIRES_SECONDS
