"""The CDK app synthesized once for the infrastructure suite, and ways to look into it."""

import itertools
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from aws_cdk import App
from aws_cdk.assertions import Match, Template

from cdk.job_queues import MAX_RECEIVES
from cdk.stack import FEATURE_FLAGS, SharerStack, build
from cdk.webhook_queues import WEBHOOK_MAX_RECEIVES

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Synthesized:
    """The stack as `make synth` builds it, its template, and the cloud assembly on disk."""

    stack: SharerStack
    template: Template
    outdir: Path

    @cached_property
    def document(self) -> dict[str, Any]:
        """The template as CloudFormation reads it, decoded once: ``Template.to_json``
        goes through jsii to node on every call. Shared by every test: read, never change."""
        return dict(self.template.to_json())

    def resource(self, logical_id: str) -> dict[str, Any]:
        """The whole resource ``logical_id``: Type, Properties, DependsOn, policies, Metadata."""
        resource: dict[str, Any] = self.document["Resources"][logical_id]
        return resource

    def resources(self, resource_type: str, props: Any = None) -> dict[str, dict[str, Any]]:
        """Every resource of ``resource_type`` (matching ``props``), by logical id."""
        found = self.template.find_resources(resource_type, props)
        return {logical_id: dict(resource) for logical_id, resource in found.items()}

    def only(self, resource_type: str, props: Any = None) -> tuple[str, dict[str, Any]]:
        """Logical id and properties of the one resource of ``resource_type`` matching ``props``."""
        ((logical_id, resource),) = self.resources(resource_type, props).items()
        properties: dict[str, Any] = resource.get("Properties", {})
        return logical_id, properties

    def bucket_id(self, ownership: str) -> str:
        """The one bucket with ``ownership``: BucketOwnerEnforced (media) or ...Preferred (logs)."""
        rules = {"Rules": [{"ObjectOwnership": ownership}]}
        logical_id, _ = self.only("AWS::S3::Bucket", {"Properties": {"OwnershipControls": rules}})
        return logical_id

    def queue_ids(self) -> tuple[str, str]:
        """Logical ids of the work queue and of its dead-letter queue."""
        return self._redriving_queue(MAX_RECEIVES)

    def webhook_queue_ids(self) -> tuple[str, str]:
        """Logical ids of the webhook queue and of its dead-letter queue."""
        return self._redriving_queue(WEBHOOK_MAX_RECEIVES)

    def _redriving_queue(self, max_receives: int) -> tuple[str, str]:
        """The queue that redrives after ``max_receives``, and the queue it redrives to."""
        redrive = {"RedrivePolicy": Match.object_like({"maxReceiveCount": max_receives})}
        queue, properties = self.only("AWS::SQS::Queue", {"Properties": redrive})
        target = properties["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        return queue, str(target)

    def group(self, role: str) -> tuple[str, dict[str, Any]]:
        """Logical id and properties of the Auto Scaling group of ``role`` (worker or server)."""
        found = {}
        for group_id, resource in self.resources("AWS::AutoScaling::AutoScalingGroup").items():
            properties = resource["Properties"]
            template_id = launch_template_of(properties)["LaunchTemplateId"]["Ref"]
            if f"sharer-start-role {role} " in self.user_data(template_id):
                found[group_id] = properties
        ((group_id, properties),) = found.items()
        return group_id, properties

    def launch_template(self, role: str) -> tuple[str, dict[str, Any]]:
        """Logical id and LaunchTemplateData of the launch template of ``role``'s group."""
        template_id = launch_template_of(self.group(role)[1])["LaunchTemplateId"]["Ref"]
        template = self.resources("AWS::EC2::LaunchTemplate")[template_id]
        data: dict[str, Any] = template["Properties"]["LaunchTemplateData"]
        return template_id, data

    def user_data(self, template_id: str) -> str:
        """The user data script of a launch template, references rendered."""
        template = self.resources("AWS::EC2::LaunchTemplate")[template_id]
        return render(template["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"])

    def settings(self, role: str) -> dict[str, str]:
        """A role's settings parameter as the EnvironmentFile its unit will read."""
        name = f"/sharer/{self.stack.stack_name}/{role}"
        _, parameter = self.only("AWS::SSM::Parameter", {"Properties": {"Name": name}})
        text = render(parameter["Value"])
        return dict(line.split("=", 1) for line in text.splitlines())

    def role_id(self, role: str) -> str:
        """Logical id of the instance role of ``role`` (worker or server)."""
        role_id, _ = self.only(
            "AWS::IAM::Role", {"Properties": {"Description": f"Sharer {role} instances."}}
        )
        return role_id

    def metadata(self) -> dict[str, list[dict[str, Any]]]:
        """The stack's construct metadata (acknowledged rules, warnings, logical ids)."""
        path = self.outdir / f"{self.stack.artifact_id}.metadata.json"
        loaded: dict[str, list[dict[str, Any]]] = json.loads(path.read_text())
        return loaded


def synthesize(outdir: Path, context: dict[str, Any] | None = None) -> Synthesized:
    """Build and synthesize the app into ``outdir`` with ``context`` (as `cdk -c` gives
    it); cdk-nag fails this on any finding."""
    app = App(outdir=str(outdir), context={**FEATURE_FLAGS, **(context or {})})
    stack = build(app)
    app.synth()
    return Synthesized(stack=stack, template=Template.from_stack(stack), outdir=outdir)


def join(value: Any) -> list[Any]:
    """The parts of an ``Fn::Join`` with an empty separator (a string with references)."""
    separator, parts = value["Fn::Join"]
    assert separator == ""
    return list(parts)


def render(value: Any) -> str:
    """A CloudFormation value as readable text: references become <LogicalId.Attribute>."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(render(part) for part in parts)
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::Sub":
            return str(argument)
    raise ValueError(f"cannot render {value!r}")


@dataclass(frozen=True)
class RoleStatement:
    """One Allow statement of a role's inline policies, its resources rendered."""

    actions: list[str]
    resources: list[str]
    conditions: dict[str, Any]


def role_statements(synthesized: Synthesized, role_id: str) -> list[RoleStatement]:
    """Every statement of every inline policy attached to ``role_id`` (all are Allow)."""
    statements: list[RoleStatement] = []
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        properties = policy["Properties"]
        if {"Ref": role_id} not in properties["Roles"]:
            continue
        for statement in properties["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            statements.append(
                RoleStatement(
                    actions=_as_list(statement["Action"]),
                    resources=[render(r) for r in _as_list(statement["Resource"])],
                    conditions=statement.get("Condition", {}),
                )
            )
    return statements


def grants(synthesized: Synthesized, role_id: str) -> dict[str, set[str]]:
    """Every Allow of every inline policy attached to ``role_id``: action -> resources
    (conditions left out: ``role_statements`` has them)."""
    allowed: dict[str, set[str]] = {}
    for statement in role_statements(synthesized, role_id):
        for action in statement.actions:
            allowed.setdefault(action, set()).update(statement.resources)
    return allowed


def agent_log_groups(synthesized: Synthesized) -> dict[str, str]:
    """The CloudWatch agent's configuration: log file path -> log group logical id."""
    _, parameter = synthesized.only(
        "AWS::SSM::Parameter",
        {"Properties": {"Name": Match.string_like_regexp("cloudwatch-agent$")}},
    )
    parts = join(parameter["Value"])
    files: dict[str, str] = {}
    for before, part in itertools.pairwise(parts):
        if isinstance(part, dict):
            path = re.findall(r"\"file_path\":\"([^\"]+)\"", before)[-1]
            files[path] = part["Ref"]
    return files


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def launch_template_of(group: dict[str, Any]) -> dict[str, Any]:
    """A group's launch template reference, direct or inside its mixed instances policy."""
    mixed = group.get("MixedInstancesPolicy")
    spec: dict[str, Any] = (
        mixed["LaunchTemplate"]["LaunchTemplateSpecification"] if mixed else group["LaunchTemplate"]
    )
    return spec
