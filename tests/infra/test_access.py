"""Least privilege: each role can do its job on the app's real keys, and nothing else."""

from fnmatch import fnmatchcase

import pytest
from cdk_synthesis import Synthesized, agent_log_groups, grants, role_statements

from cdk.logs import log_file
from sharer.formats import ACCEPTED
from sharer.idempotency_records import record_key
from sharer.ids import new_image_id
from sharer.key_scheme import pending_key, status_key, tombstone_key
from sharer.messages import ThumbnailJob, job_for_upload

S3_OBJECT_ACTIONS = {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}


def _jobs() -> list[ThumbnailJob]:
    """A job for every kind of upload: each accepted format, opaque and with alpha."""
    return [
        job_for_upload(new_image_id(), image_format, has_alpha)
        for image_format in ACCEPTED.values()
        for has_alpha in (False, True)
    ]


def _role(synthesized: Synthesized, name: str) -> dict[str, set[str]]:
    return grants(synthesized, synthesized.role_id(name))


def _may(allowed: dict[str, set[str]], action: str, resource: str) -> bool:
    # IAM's * matches any run of characters, "/" included, as fnmatch's does.
    return any(fnmatchcase(resource, pattern) for pattern in allowed.get(action, ()))


@pytest.fixture(scope="module")
def media(synthesized: Synthesized) -> str:
    return f"<{synthesized.bucket_id('BucketOwnerEnforced')}.Arn>"


def test_worker_can_do_every_job(synthesized: Synthesized, media: str) -> None:
    worker = _role(synthesized, "worker")
    for job in _jobs():
        assert _may(worker, "s3:GetObject", f"{media}/{job.original_key}")
        for thumbnail in job.thumbnails:
            assert _may(worker, "s3:PutObject", f"{media}/{thumbnail.key}")
        for action in ("s3:GetObject", "s3:PutObject"):
            assert _may(worker, action, f"{media}/{status_key(job.image_id)}")


def test_worker_never_writes_originals_and_deletes_only_image_objects(
    synthesized: Synthesized, media: str
) -> None:
    worker = _role(synthesized, "worker")
    for job in _jobs():
        assert not _may(worker, "s3:PutObject", f"{media}/{job.original_key}")
        # Undoing a job that a delete overtook removes what the job wrote, and the rest.
        for key in (job.original_key, status_key(job.image_id), pending_key(job.image_id)):
            assert _may(worker, "s3:DeleteObject", f"{media}/{key}")
        assert not _may(worker, "s3:DeleteObject", f"{media}/{tombstone_key(job.image_id)}")
    assert not _may(worker, "s3:PutObject", f"{media}/elsewhere/x.jpg")
    assert not _may(worker, "s3:DeleteObject", f"{media}/elsewhere/x.jpg")
    assert "sqs:PurgeQueue" not in worker


@pytest.mark.parametrize(
    ("name", "prefixes"),
    [
        ("worker", ["deleted/*", "pending/*", "status/*"]),
        ("server", ["deleted/*", "expiring/*", "idempotency/*", "pending/*", "status/*"]),
    ],
)
def test_listing_is_allowed_for_the_record_prefixes_only(
    synthesized: Synthesized, media: str, name: str, prefixes: list[str]
) -> None:
    statements = [
        statement
        for statement in role_statements(synthesized, synthesized.role_id(name))
        if "s3:ListBucket" in statement.actions
    ]
    assert statements, "a missing record must be told from a forbidden one"
    for statement in statements:
        assert statement.resources == [media]
        assert statement.conditions == {"StringLike": {"s3:prefix": prefixes}}


def test_only_the_server_keeps_idempotency_records(synthesized: Synthesized, media: str) -> None:
    server, worker = _role(synthesized, "server"), _role(synthesized, "worker")
    record = f"{media}/{record_key('8e03978e-40d5-43e8-bc93-6894a57f9324')}"
    for action in S3_OBJECT_ACTIONS:
        assert _may(server, action, record)
        assert not _may(worker, action, record)
    # The grant is the record's own key shape, not the prefix's every key.
    assert not _may(server, "s3:PutObject", f"{media}/idempotency/nested/x.jpg.exe")


def test_worker_consumes_the_work_queue_and_feeds_the_dead_letter_queue(
    synthesized: Synthesized,
) -> None:
    worker = _role(synthesized, "worker")
    queue, dead_letter = synthesized.queue_ids()
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"):
        assert worker[action] == {f"<{queue}.Arn>"}
    webhooks, _ = synthesized.webhook_queue_ids()
    # The dead-letter queue for poison jobs, the webhook queue for image.ready and .failed.
    assert worker["sqs:SendMessage"] == {f"<{dead_letter}.Arn>", f"<{webhooks}.Arn>"}


def test_worker_may_make_every_call_of_its_self_check(synthesized: Synthesized, media: str) -> None:
    # worker.self_check, before a new worker signals: SqsQueue.check asks both queues for
    # an attribute, S3Storage.exists lists a tombstone's own key.
    worker = _role(synthesized, "worker")
    queue, dead_letter = synthesized.queue_ids()
    assert worker["sqs:GetQueueAttributes"] == {f"<{queue}.Arn>", f"<{dead_letter}.Arn>"}
    tombstone = tombstone_key(new_image_id())
    listings = [
        statement
        for statement in role_statements(synthesized, synthesized.role_id("worker"))
        if "s3:ListBucket" in statement.actions and statement.resources == [media]
    ]
    assert any(
        fnmatchcase(tombstone, pattern)
        for statement in listings
        for pattern in statement.conditions["StringLike"]["s3:prefix"]
    )


def test_server_stores_originals_and_never_writes_thumbnails(
    synthesized: Synthesized, media: str
) -> None:
    server = _role(synthesized, "server")
    for job in _jobs():
        assert _may(server, "s3:PutObject", f"{media}/{job.original_key}")
        assert _may(server, "s3:DeleteObject", f"{media}/{job.original_key}")
        for thumbnail in job.thumbnails:
            for action in ("s3:GetObject", "s3:PutObject"):
                assert not _may(server, action, f"{media}/{thumbnail.key}")
            # A delete removes the thumbnails with the original.
            assert _may(server, "s3:DeleteObject", f"{media}/{thumbnail.key}")
        for key in (status_key(job.image_id), pending_key(job.image_id)):
            for action in S3_OBJECT_ACTIONS:
                assert _may(server, action, f"{media}/{key}")
        for action in ("s3:GetObject", "s3:PutObject"):
            assert _may(server, action, f"{media}/{tombstone_key(job.image_id)}")
        assert not _may(server, "s3:DeleteObject", f"{media}/{tombstone_key(job.image_id)}")
    # The health check reads the bucket's location; listing is for record prefixes only
    # (test_listing_is_allowed_for_the_record_prefixes_only).
    assert server["s3:GetBucketLocation"] == {media}


def test_server_may_invalidate_this_distribution_only(synthesized: Synthesized) -> None:
    distribution_id, _ = synthesized.only("AWS::CloudFront::Distribution")
    server = _role(synthesized, "server")
    (arn,) = server["cloudfront:CreateInvalidation"]
    assert arn.startswith("arn:<AWS::Partition>:cloudfront::<AWS::AccountId>:distribution/")
    assert arn.endswith(f"/<{distribution_id}>")
    assert "cloudfront:CreateInvalidation" not in _role(synthesized, "worker")


def test_server_sends_jobs_and_only_checks_the_dead_letter_queue(
    synthesized: Synthesized,
) -> None:
    server = _role(synthesized, "server")
    queue, dead_letter = synthesized.queue_ids()
    webhooks, webhook_dead_letter = synthesized.webhook_queue_ids()
    # Jobs; webhook events (deleted, expired); undeliverable events (sharer-webhooks).
    assert server["sqs:SendMessage"] == {
        f"<{queue}.Arn>",
        f"<{webhooks}.Arn>",
        f"<{webhook_dead_letter}.Arn>",
    }
    assert server["sqs:GetQueueAttributes"] == {
        f"<{queue}.Arn>",
        f"<{dead_letter}.Arn>",
        f"<{webhooks}.Arn>",
    }
    # sharer-webhooks runs beside each server: it consumes the webhook queue only.
    assert server["sqs:ReceiveMessage"] == {f"<{webhooks}.Arn>"}


@pytest.mark.parametrize("name", ["worker", "server"])
def test_each_role_reads_its_own_settings_and_writes_its_own_logs(
    synthesized: Synthesized, name: str
) -> None:
    allowed = _role(synthesized, name)
    stack = synthesized.stack.stack_name
    parameters = {p.rsplit(":parameter/", 1)[1] for p in allowed["ssm:GetParameter"]}
    assert parameters == {f"sharer/{stack}/{name}", f"sharer/{stack}/cloudwatch-agent"}
    group = agent_log_groups(synthesized)[log_file(name)]
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        assert allowed[action] == {f"<{group}.Arn>"}
