"""Acknowledging a cdk-nag finding: always on the resource it concerns, always with a reason.

And granting object keys by pattern, which is always such a finding; and the same for a
checkov finding (``skip_checkov``: `make checkov` runs it on the synthesized template).
"""

from aws_cdk import Acknowledgment, CfnElement, CfnResource, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Record that ``rule`` was reviewed on ``construct`` and why the finding stands.

    ``rule`` is a cdk-nag id, with the finding in brackets where a rule reports several
    (``AwsSolutions-IAM5[Resource::...]``), so one acknowledgement covers one finding.
    """
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def acknowledge_object_keys(
    construct: IConstruct, bucket: s3.IBucket, keys: list[str], reason: str
) -> None:
    """Acknowledge the IAM5 finding of each ``bucket`` key pattern granted in ``construct``."""
    bucket_resource = bucket.node.default_child
    assert isinstance(bucket_resource, CfnElement)
    logical_id = Stack.of(bucket).get_logical_id(bucket_resource)
    for key in keys:
        acknowledge(construct, f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/{key}]", reason)


def grant_object_keys(
    role: iam.Role, bucket: s3.IBucket, actions: list[str], keys: list[str], reason: str
) -> None:
    """Allow ``actions`` on the ``bucket`` objects matching ``keys``, and nothing else.

    Each key pattern's wildcard is a cdk-nag IAM5 finding, acknowledged with ``reason``.
    """
    role.add_to_policy(
        iam.PolicyStatement(actions=actions, resources=[bucket.arn_for_objects(k) for k in keys])
    )
    acknowledge_object_keys(role, bucket, keys, reason)


def skip_checkov(construct: IConstruct, check: str, reason: str) -> None:
    """Record that checkov's ``check`` (``CKV_AWS_...``) was reviewed on ``construct``'s
    resource and why the finding stands: the resource's ``checkov`` metadata, which checkov
    reports as a skipped check with ``reason``."""
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    assert isinstance(resource, CfnResource), f"{construct.node.path} has no resource"
    earlier = resource.get_metadata("checkov") or {"skip": []}
    resource.add_metadata("checkov", {"skip": [*earlier["skip"], {"id": check, "comment": reason}]})
