"""The synthesized CloudFormation template, the rehearsal's one source of AWS values.

Everything the rehearsal configures (balancer, CDN, IAM identities, settings, worker
scaling) is read here from the template that `make synth` writes, never written again.
References (``Ref``, ``Fn::GetAtt``, ``Fn::Join``, pseudo parameters) are rendered through a
``Physical`` table: what each logical resource became on this machine (a bucket on moto,
the CDN's address...), as CloudFormation would fill them in on a deploy.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App

from cdk.stack import FEATURE_FLAGS, build

REPO_ROOT = Path(__file__).resolve().parents[3]
STACK_NAME = "ImageSharer"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
# CloudFront's managed cache policies, by the id a template names them with: (min, default,
# max) TTL in seconds. docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/
# using-managed-cache-policies.html
MANAGED_CACHE_POLICIES = {
    "658327ea-f89d-4fab-a63d-7e88639e58f6": (1, 86400, 31536000),  # CachingOptimized
    "4135ea2d-6df8-44a3-9df3-4b5a84be39ad": (0, 0, 0),  # CachingDisabled
}

# Logical id -> attribute ("Ref", "Arn", "DomainName"...) -> value on this machine.
Physical = Mapping[str, Mapping[str, str]]


def synthesize(outdir: Path, context: Mapping[str, Any]) -> "StackTemplate":
    """Build and synthesize the CDK app as app.py (`make synth`) does, with no AWS account,
    with ``context`` as a stage's cdk.json would give it (e.g. ``{"fleetMin": 0}``), and
    load its template. In this process: a test session that has synthesized the app
    already (tests/infra) reuses its running jsii kernel, which is most of a synthesis."""
    app = App(outdir=str(outdir), context={**FEATURE_FLAGS, **context})
    build(app)
    app.synth()
    return StackTemplate(json.loads((outdir / f"{STACK_NAME}.template.json").read_text()))


@dataclass(frozen=True)
class TargetGroup:
    """The balancer's health check and drain, as the target group and balancer declare them."""

    health_path: str
    interval_seconds: int
    timeout_seconds: int
    healthy_threshold: int
    unhealthy_threshold: int
    healthy_codes: str
    deregistration_delay_seconds: int
    idle_timeout_seconds: int
    port: int


@dataclass(frozen=True)
class Behaviour:
    """One cache behaviour of the distribution, its cache policy resolved to TTLs."""

    path_pattern: str | None  # None: the default behaviour
    origin: str  # "bucket" or "balancer"
    allowed_methods: tuple[str, ...]
    min_ttl: int
    default_ttl: int
    max_ttl: int
    # A CloudFront Function runs on viewer requests (the thumbnail variants' one).
    viewer_request_function: bool = False


@dataclass(frozen=True)
class Distribution:
    """Behaviours in CloudFront's order of precedence, and the error caching TTLs."""

    behaviours: tuple[Behaviour, ...]
    error_caching_ttl: Mapping[int, int]
    # The balancer origin's read timeout and keep-alive (VpcOriginConfig).
    read_timeout_seconds: int
    keepalive_seconds: int


@dataclass(frozen=True)
class Statement:
    """One Allow statement of a role's policies, references rendered."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: Mapping[str, Any]


@dataclass(frozen=True)
class StepPolicy:
    """One step scaling policy with the alarm that drives it."""

    expression: str
    comparison: str
    threshold: float
    evaluation_periods: int
    period_seconds: int
    # (lower, upper, percent change) relative to the threshold, as in StepAdjustments.
    steps: tuple[tuple[float | None, float | None, int], ...]


class StackTemplate:
    """Typed views of the parts of the template the rehearsal runs."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.resources: dict[str, dict[str, Any]] = dict(document["Resources"])

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Properties of every resource of ``resource_type``, by logical id."""
        return {
            logical_id: resource.get("Properties", {})
            for logical_id, resource in self.resources.items()
            if resource["Type"] == resource_type
        }

    def only(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        """The one resource of ``resource_type``: logical id and properties."""
        ((logical_id, properties),) = self.of_type(resource_type).items()
        return logical_id, properties

    def media_bucket(self) -> str:
        """Logical id of the bucket the settings name (the images' bucket)."""
        refs = _refs(self.settings_text("worker"))
        (bucket,) = (r for r in refs if self.resources[r]["Type"] == "AWS::S3::Bucket")
        return bucket

    def queues(self) -> dict[str, dict[str, Any]]:
        """Every SQS queue's properties, by logical id."""
        return self.of_type("AWS::SQS::Queue")

    def distribution_id(self) -> str:
        """Logical id of the CloudFront distribution."""
        return self.only("AWS::CloudFront::Distribution")[0]

    def settings_text(self, role: str) -> Any:
        """The unrendered value of ``role``'s settings parameter (worker or server)."""
        return self.settings_parameter(role)[1]["Value"]

    def settings_parameter(self, role: str) -> tuple[str, dict[str, Any]]:
        """Logical id and properties of the SSM parameter holding ``role``'s settings."""
        name = f"/sharer/{STACK_NAME}/{role}"
        ((logical_id, properties),) = (
            (k, p) for k, p in self.of_type("AWS::SSM::Parameter").items() if p["Name"] == name
        )
        return logical_id, properties

    def settings(self, role: str, physical: Physical) -> str:
        """``role``'s settings parameter value, rendered: the EnvironmentFile text."""
        return render(self.settings_text(role), physical)

    def target_group(self) -> TargetGroup:
        """The upload tier's target group, with the balancer's idle timeout."""
        _, group = self.only("AWS::ElasticLoadBalancingV2::TargetGroup")
        _, balancer = self.only("AWS::ElasticLoadBalancingV2::LoadBalancer")
        group_attributes = {a["Key"]: a["Value"] for a in group["TargetGroupAttributes"]}
        balancer_attributes = {a["Key"]: a["Value"] for a in balancer["LoadBalancerAttributes"]}
        return TargetGroup(
            health_path=group["HealthCheckPath"],
            interval_seconds=int(group["HealthCheckIntervalSeconds"]),
            timeout_seconds=int(group["HealthCheckTimeoutSeconds"]),
            healthy_threshold=int(group["HealthyThresholdCount"]),
            unhealthy_threshold=int(group["UnhealthyThresholdCount"]),
            healthy_codes=group["Matcher"]["HttpCode"],
            deregistration_delay_seconds=int(
                group_attributes["deregistration_delay.timeout_seconds"]
            ),
            idle_timeout_seconds=int(balancer_attributes["idle_timeout.timeout_seconds"]),
            port=int(group["Port"]),
        )

    def distribution(self) -> Distribution:
        """The distribution's behaviours (path patterns first, default last) and errors."""
        _, properties = self.only("AWS::CloudFront::Distribution")
        config = properties["DistributionConfig"]
        origins = {o["Id"]: o for o in config["Origins"]}
        cache_policies = self.of_type("AWS::CloudFront::CachePolicy")

        def behaviour(raw: Mapping[str, Any]) -> Behaviour:
            origin = origins[raw["TargetOriginId"]]
            policy = raw["CachePolicyId"]
            if isinstance(policy, dict):
                ttl = cache_policies[policy["Ref"]]["CachePolicyConfig"]
                ttls = (int(ttl["MinTTL"]), int(ttl["DefaultTTL"]), int(ttl["MaxTTL"]))
            else:
                ttls = MANAGED_CACHE_POLICIES[policy]
            return Behaviour(
                path_pattern=raw.get("PathPattern"),
                origin="bucket" if "S3OriginConfig" in origin else "balancer",
                allowed_methods=tuple(raw["AllowedMethods"]),
                min_ttl=ttls[0],
                default_ttl=ttls[1],
                max_ttl=ttls[2],
                viewer_request_function=any(
                    a["EventType"] == "viewer-request" for a in raw.get("FunctionAssociations", [])
                ),
            )

        ordered = [*config.get("CacheBehaviors", []), config["DefaultCacheBehavior"]]
        (vpc_origin,) = (o["VpcOriginConfig"] for o in origins.values() if "VpcOriginConfig" in o)
        return Distribution(
            read_timeout_seconds=int(vpc_origin["OriginReadTimeout"]),
            keepalive_seconds=int(vpc_origin["OriginKeepaliveTimeout"]),
            behaviours=tuple(behaviour(b) for b in ordered),
            error_caching_ttl={
                int(e["ErrorCode"]): int(e["ErrorCachingMinTTL"])
                for e in config.get("CustomErrorResponses", [])
            },
        )

    def bucket_read_by_cdn(self, physical: Physical) -> Statement:
        """The bucket policy statement that lets the distribution read objects."""
        (statement,) = (
            s
            for p in self.of_type("AWS::S3::BucketPolicy").values()
            for s in p["PolicyDocument"]["Statement"]
            if s.get("Principal") == {"Service": "cloudfront.amazonaws.com"}
        )
        return _statement(statement, physical)

    def role_id(self, role: str) -> str:
        """Logical id of the instance role of ``role`` (worker or server)."""
        ((logical_id, _),) = (
            (k, p)
            for k, p in self.of_type("AWS::IAM::Role").items()
            if p.get("Description") == f"Sharer {role} instances."
        )
        return logical_id

    def role_statements(self, role: str, physical: Physical) -> list[Statement]:
        """Every statement of every inline policy attached to ``role``'s instance role."""
        role_ref = {"Ref": self.role_id(role)}
        return [
            _statement(statement, physical)
            for policy in self.of_type("AWS::IAM::Policy").values()
            if role_ref in policy["Roles"]
            for statement in policy["PolicyDocument"]["Statement"]
        ]

    def worker_group(self) -> tuple[str, int, int]:
        """Logical id, MinSize and MaxSize of the worker group (the one step-scaled)."""
        policies = self.of_type("AWS::AutoScaling::ScalingPolicy").values()
        (group_id,) = {
            p["AutoScalingGroupName"]["Ref"] for p in policies if p["PolicyType"] == "StepScaling"
        }
        group = self.of_type("AWS::AutoScaling::AutoScalingGroup")[group_id]
        return group_id, int(group["MinSize"]), int(group["MaxSize"])

    def server_group_minimum(self) -> int:
        """MinSize of the group behind the balancer (the servers kept in service)."""
        ((group),) = (
            g
            for g in self.of_type("AWS::AutoScaling::AutoScalingGroup").values()
            if "TargetGroupARNs" in g
        )
        return int(group["MinSize"])

    def step_policies(self) -> list[StepPolicy]:
        """The worker group's step policies, each with its alarm's expression and threshold."""
        policies = {
            k: p
            for k, p in self.of_type("AWS::AutoScaling::ScalingPolicy").items()
            if p["PolicyType"] == "StepScaling"
        }
        found = []
        for alarm in self.of_type("AWS::CloudWatch::Alarm").values():
            actions = [a.get("Ref") for a in alarm.get("AlarmActions", []) if isinstance(a, dict)]
            for action in actions:
                if action not in policies:
                    continue
                metrics = alarm["Metrics"]
                (expression,) = (m["Expression"] for m in metrics if m.get("ReturnData"))
                (period,) = {m["MetricStat"]["Period"] for m in metrics if "MetricStat" in m}
                found.append(
                    StepPolicy(
                        expression=expression,
                        comparison=alarm["ComparisonOperator"],
                        threshold=float(alarm["Threshold"]),
                        evaluation_periods=int(alarm["EvaluationPeriods"]),
                        period_seconds=int(period),
                        steps=tuple(
                            (
                                _optional_float(s.get("MetricIntervalLowerBound")),
                                _optional_float(s.get("MetricIntervalUpperBound")),
                                int(s["ScalingAdjustment"]),
                            )
                            for s in policies[action]["StepAdjustments"]
                        ),
                    )
                )
        return found

    def unit_health_url(self) -> str:
        """The URL the server's user data waits on (sharer-wait-healthy) before signalling."""
        for template in self.of_type("AWS::EC2::LaunchTemplate").values():
            user_data = render(template["LaunchTemplateData"]["UserData"]["Fn::Base64"], {})
            for line in user_data.splitlines():
                if "sharer-wait-healthy " in line:
                    return line.split()[1]
        raise LookupError("no launch template waits for a healthy server")


def render(value: Any, physical: Physical) -> str:
    """A CloudFormation value as the text a deploy would produce, with ``physical``'s
    values for references (a reference it lacks renders as ``<LogicalId.Attribute>``)."""
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(render(part, physical) for part in parts)
        if function == "Ref":
            return _pseudo(argument) or _lookup(physical, argument, "Ref")
        if function == "Fn::GetAtt":
            return _lookup(physical, argument[0], argument[1])
    raise ValueError(f"cannot render {value!r}")


def _pseudo(name: str) -> str | None:
    return {
        "AWS::Partition": "aws",
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Region": REGION,
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": STACK_NAME,
    }.get(name)


def _lookup(physical: Physical, logical_id: str, attribute: str) -> str:
    return physical.get(logical_id, {}).get(attribute, f"<{logical_id}.{attribute}>")


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        if "Ref" in value:
            return [value["Ref"]]
        if "Fn::GetAtt" in value:
            return [value["Fn::GetAtt"][0]]
        return [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def _statement(raw: Mapping[str, Any], physical: Physical) -> Statement:
    assert raw["Effect"] == "Allow"
    actions = raw["Action"] if isinstance(raw["Action"], list) else [raw["Action"]]
    resources = raw["Resource"] if isinstance(raw["Resource"], list) else [raw["Resource"]]
    return Statement(
        actions=tuple(actions),
        resources=tuple(render(r, physical) for r in resources),
        conditions=raw.get("Condition", {}),
    )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
