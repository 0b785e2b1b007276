"""checkov's findings (`make checkov`): each one skipped sits on its resource with a reason,
and where the reason is a fact of the template, the template bears it out."""

import re
from typing import Any

from cdk_synthesis import Synthesized


def _skips(synthesized: Synthesized) -> dict[str, dict[str, str]]:
    """Logical id -> {check id: reason} of every checkov skip in the template."""
    found: dict[str, dict[str, str]] = {}
    for logical_id, resource in synthesized.document["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            found.setdefault(logical_id, {})[skip["id"]] = skip["comment"]
    return found


def _properties(synthesized: Synthesized, logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = synthesized.resource(logical_id)["Properties"]
    return properties


def test_every_skip_names_a_check_and_says_why(synthesized: Synthesized) -> None:
    skips = _skips(synthesized)
    assert skips, "the template's known findings are skipped with their reasons"
    for checks in skips.values():
        for check, reason in checks.items():
            assert re.fullmatch(r"CKV_AWS_\d+", check)
            assert len(reason.split()) >= 8, f"{check}: say why, not just that"


def test_the_queues_skip_is_a_false_positive(synthesized: Synthesized) -> None:
    skips = _skips(synthesized)
    queues = synthesized.queue_ids() + synthesized.webhook_queue_ids()
    assert {logical_id for logical_id, checks in skips.items() if "CKV_AWS_27" in checks} == set(
        queues
    )
    for queue in queues:
        assert _properties(synthesized, queue)["SqsManagedSseEnabled"] is True


def test_the_log_buckets_unversioned_logs_expire(synthesized: Synthesized) -> None:
    log_bucket = synthesized.bucket_id("BucketOwnerPreferred")
    assert "CKV_AWS_21" in _skips(synthesized)[log_bucket]
    rules = _properties(synthesized, log_bucket)["LifecycleConfiguration"]["Rules"]
    assert any("ExpirationInDays" in rule for rule in rules)


def test_the_distribution_skips_only_what_its_configuration_explains(
    synthesized: Synthesized,
) -> None:
    distribution_id, distribution = synthesized.only("AWS::CloudFront::Distribution")
    config = distribution["DistributionConfig"]
    checks = _skips(synthesized)[distribution_id]
    assert ("CKV_AWS_68" in checks) == ("WebACLId" not in config)
    assert ("CKV_AWS_174" in checks) == ("ViewerCertificate" not in config)
