"""The upload tier: servers in two zones behind an internal balancer, and their settings."""

import dataclasses
import re
from typing import Any

from aws_cdk.assertions import Match
from cdk_synthesis import REPO_ROOT, Synthesized, grants, render
from flask import Flask

from cdk.upload_tier import (
    CLOUDFRONT_PREFIX_LIST,
    DEPENDENCY_HEALTH_PATH,
    HEALTH_PATH,
    LISTENER_PORT,
    PORT,
    WAIT_HEALTHY_COMMAND,
    WAIT_ROUTABLE_COMMAND,
)
from cli.retry import RetryPolicy
from server import health_route
from sharer.settings import ServerSettings, WorkerSettings

UNIT = REPO_ROOT / "image-builder" / "systemd" / "sharer@.service"


def _balancer(synthesized: Synthesized) -> tuple[str, dict[str, Any]]:
    return synthesized.only("AWS::ElasticLoadBalancingV2::LoadBalancer")


def _target_group(synthesized: Synthesized) -> tuple[str, dict[str, Any]]:
    return synthesized.only("AWS::ElasticLoadBalancingV2::TargetGroup")


def _attributes(properties: dict[str, Any], key: str) -> dict[str, str]:
    return {a["Key"]: a["Value"] for a in properties[key]}


def _ingress(synthesized: Synthesized, group_id: str) -> list[dict[str, Any]]:
    group = synthesized.resources("AWS::EC2::SecurityGroup")[group_id]["Properties"]
    inline = group.get("SecurityGroupIngress", [])
    separate = synthesized.resources(
        "AWS::EC2::SecurityGroupIngress",
        {"Properties": {"GroupId": {"Fn::GetAtt": [group_id, "GroupId"]}}},
    )
    return [*inline, *(r["Properties"] for r in separate.values())]


def test_at_least_two_servers_in_two_zones_replaced_when_unhealthy(
    synthesized: Synthesized,
) -> None:
    config = synthesized.stack.config
    _, group = synthesized.group("server")
    assert int(group["MinSize"]) == config.server_min >= 2
    assert int(group["MaxSize"]) == config.server_max > config.server_min
    subnets = synthesized.resources("AWS::EC2::Subnet")
    zones = {
        str(subnets[s["Ref"]]["Properties"]["AvailabilityZone"]) for s in group["VPCZoneIdentifier"]
    }
    assert len(zones) == len(group["VPCZoneIdentifier"]) >= 2
    assert group["HealthCheckType"] == "ELB"
    target_group_id, _ = _target_group(synthesized)
    assert group["TargetGroupARNs"] == [{"Ref": target_group_id}]


def test_lifecycle_target_group_health_check_is_liveness_not_dependency_health(
    synthesized: Synthesized,
) -> None:
    # The server group replaces instances on this check (HealthCheckType ELB), so it
    # must not fail when S3 or SQS do: the app's liveness route, which calls neither.
    _, target_group = _target_group(synthesized)
    assert target_group["HealthCheckPath"] == HEALTH_PATH == "/livez"
    assert HEALTH_PATH != DEPENDENCY_HEALTH_PATH
    assert target_group["Matcher"] == {"HttpCode": "200"}
    assert (target_group["Port"], target_group["Protocol"]) == (PORT, "HTTP")


def test_lifecycle_listener_the_dependency_check_is_not_public(
    synthesized: Synthesized,
) -> None:
    # Every public request reaches the servers through this listener; its first rule
    # answers the deep check itself, so CloudFront cannot make the servers call AWS.
    listener_id, _ = synthesized.only("AWS::ElasticLoadBalancingV2::Listener")
    _, rule = synthesized.only(
        "AWS::ElasticLoadBalancingV2::ListenerRule",
        {"Properties": {"ListenerArn": {"Ref": listener_id}}},
    )
    (condition,) = rule["Conditions"]
    assert condition["Field"] == "path-pattern"
    assert DEPENDENCY_HEALTH_PATH in condition["PathPatternConfig"]["Values"]
    (action,) = rule["Actions"]
    assert action["Type"] == "fixed-response"
    assert action["FixedResponseConfig"]["StatusCode"] == "404"
    assert action["FixedResponseConfig"]["ContentType"] == "application/json"
    # The path it hides is the app's dependency check, a route that exists.
    app = Flask(__name__)
    app.register_blueprint(health_route.health_blueprint)
    routes = {url_rule.rule for url_rule in app.url_map.iter_rules()}
    assert DEPENDENCY_HEALTH_PATH in routes
    assert DEPENDENCY_HEALTH_PATH == health_route.DEPENDENCY_HEALTH_PATH
    assert HEALTH_PATH in routes


def test_the_balancer_is_internal_in_isolated_subnets(synthesized: Synthesized) -> None:
    _, balancer = _balancer(synthesized)
    assert balancer["Scheme"] == "internal"
    routes = synthesized.resources("AWS::EC2::Route")
    tables_with_a_way_out = {r["Properties"]["RouteTableId"]["Ref"] for r in routes.values()}
    associations = synthesized.resources("AWS::EC2::SubnetRouteTableAssociation").values()
    table_of = {
        a["Properties"]["SubnetId"]["Ref"]: a["Properties"]["RouteTableId"]["Ref"]
        for a in associations
    }
    assert len(balancer["Subnets"]) == 2
    for subnet in balancer["Subnets"]:
        assert table_of[subnet["Ref"]] not in tables_with_a_way_out


def test_only_cloudfront_reaches_the_balancer_and_only_the_balancer_the_servers(
    synthesized: Synthesized,
) -> None:
    _, balancer = _balancer(synthesized)
    (balancer_group_ref,) = balancer["SecurityGroups"]
    balancer_group = balancer_group_ref["Fn::GetAtt"][0]
    (from_cloudfront,) = _ingress(synthesized, balancer_group)
    assert (from_cloudfront["FromPort"], from_cloudfront["ToPort"]) == (
        LISTENER_PORT,
        LISTENER_PORT,
    )
    lookup_id = from_cloudfront["SourcePrefixListId"]["Fn::GetAtt"][0]
    lookup = synthesized.resources("Custom::AWS")[lookup_id]["Properties"]
    assert CLOUDFRONT_PREFIX_LIST in render(lookup["Update"])

    _, data = synthesized.launch_template("server")
    (server_group_ref,) = data["SecurityGroupIds"]
    (from_balancer,) = _ingress(synthesized, server_group_ref["Fn::GetAtt"][0])
    assert from_balancer["SourceSecurityGroupId"] == {"Fn::GetAtt": [balancer_group, "GroupId"]}
    assert (from_balancer["FromPort"], from_balancer["ToPort"]) == (PORT, PORT)
    assert "CidrIp" not in from_balancer


def test_a_rollout_stops_an_old_server_only_after_a_new_one_is_healthy(
    synthesized: Synthesized,
) -> None:
    group_id, group = synthesized.group("server")
    resource = synthesized.resource(group_id)
    rolling = resource["UpdatePolicy"]["AutoScalingRollingUpdate"]
    assert rolling["MaxBatchSize"] == 1
    assert rolling["MinInstancesInService"] == int(group["MinSize"])
    assert rolling["WaitOnResourceSignals"] is True
    assert resource["CreationPolicy"]["ResourceSignal"]["Count"] == int(group["MinSize"])
    # The signal is sent when the new server's own liveness check answers.
    template_id, _ = synthesized.launch_template("server")
    user_data = synthesized.user_data(template_id)
    assert f"{WAIT_HEALTHY_COMMAND} http://127.0.0.1:{PORT}{HEALTH_PATH} " in user_data
    assert f"cfn-signal --stack {synthesized.stack.stack_name} --resource {group_id}" in user_data
    assert user_data.index("sharer-start-role server") < user_data.index(WAIT_HEALTHY_COMMAND)


def test_lifecycle_server_group_rolling_update_signals_once_the_balancer_routes_to_it(
    synthesized: Synthesized,
) -> None:
    # CloudFormation stops an old server on the new one's signal; the signal's exit status
    # is the last command's, which waits until this target group calls the server healthy.
    group_id, _ = synthesized.group("server")
    target_group_id, _ = _target_group(synthesized)
    template_id, _ = synthesized.launch_template("server")
    last_command = synthesized.user_data(template_id).strip().splitlines()[-1]
    assert last_command.startswith(WAIT_ROUTABLE_COMMAND)
    assert f"--target-group-arn <{target_group_id}>" in last_command
    allowed = grants(synthesized, synthesized.role_id("server"))
    assert allowed["elasticloadbalancing:DescribeTargetHealth"] == {"*"}
    # The signal wait fits in the group's signal timeout.
    resource = synthesized.resource(group_id)
    timeout = resource["CreationPolicy"]["ResourceSignal"]["Timeout"]
    seconds = re.findall(r"--seconds (\d+)", synthesized.user_data(template_id))
    assert _iso_seconds(timeout) > sum(int(s) for s in seconds)


def _iso_seconds(duration: str) -> int:
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", duration)
    assert match, duration
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def test_servers_scale_on_cpu_and_are_renewed_weekly(synthesized: Synthesized) -> None:
    group_id, group = synthesized.group("server")
    synthesized.template.has_resource_properties(
        "AWS::AutoScaling::ScalingPolicy",
        {
            "AutoScalingGroupName": {"Ref": group_id},
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingConfiguration": Match.object_like(
                {
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "ASGAverageCPUUtilization"
                    }
                }
            ),
        },
    )
    assert group["MaxInstanceLifetime"] == 7 * 24 * 3600
    assert group["InstanceMaintenancePolicy"] == {
        "MinHealthyPercentage": 100,
        "MaxHealthyPercentage": 200,
    }


def test_servers_boot_the_current_ami_with_imdsv2_and_encrypted_disks(
    synthesized: Synthesized,
) -> None:
    _, worker = synthesized.launch_template("worker")
    _, server = synthesized.launch_template("server")
    assert server["ImageId"] == worker["ImageId"]
    image_id, _ = synthesized.only("AWS::ImageBuilder::Image")
    assert server["ImageId"] == {"Fn::GetAtt": [image_id, "ImageId"]}
    assert server["MetadataOptions"]["HttpTokens"] == "required"
    assert server["InstanceType"] == synthesized.stack.config.server_instance_type
    assert all(d["Ebs"]["Encrypted"] is True for d in server["BlockDeviceMappings"])


def test_server_settings_name_the_cdn_and_its_distribution(synthesized: Synthesized) -> None:
    distribution_id, _ = synthesized.only("AWS::CloudFront::Distribution")
    settings = synthesized.settings("server")
    assert settings["SHARER_PUBLIC_BASE_URL"] == f"https://<{distribution_id}.DomainName>"
    assert settings["SHARER_SITE_URL"] == settings["SHARER_PUBLIC_BASE_URL"]
    assert settings["SHARER_CDN_DISTRIBUTION_ID"] == f"<{distribution_id}>"
    assert settings["SHARER_BIND"] == f"0.0.0.0:{PORT}"
    # CloudFront and the balancer each add a hop; every connection is the balancer's.
    assert settings["SHARER_FORWARDED_HOPS"] == "2"
    assert settings["SHARER_MAX_CONNECTIONS_PER_CLIENT"] == "0"
    # The launch template only knows the parameter's name.
    template_id, _ = synthesized.launch_template("server")
    assert distribution_id not in str(synthesized.resource(template_id))


def test_timeouts_are_ordered_along_the_path(synthesized: Synthesized) -> None:
    settings = synthesized.settings("server")
    deadline = int(settings["SHARER_REQUEST_TIMEOUT"])
    keepalive = int(settings["SHARER_KEEPALIVE_SECONDS"])
    _, distribution = synthesized.only("AWS::CloudFront::Distribution")
    (origin,) = (o for o in distribution["DistributionConfig"]["Origins"] if "VpcOriginConfig" in o)
    read_timeout = origin["VpcOriginConfig"]["OriginReadTimeout"]
    origin_keepalive = origin["VpcOriginConfig"]["OriginKeepaliveTimeout"]
    _, balancer = _balancer(synthesized)
    idle = int(_attributes(balancer, "LoadBalancerAttributes")["idle_timeout.timeout_seconds"])
    _, target_group = _target_group(synthesized)
    draining = int(
        _attributes(target_group, "TargetGroupAttributes")["deregistration_delay.timeout_seconds"]
    )
    (stop,) = re.findall(r"^TimeoutStopSec=(\d+)$", UNIT.read_text(), re.MULTILINE)
    # Users get the app's 503 + Retry-After, not CloudFront's 504 or the balancer's.
    assert deadline < read_timeout <= idle
    # Whoever opens a connection closes it first: a POST never meets one just closed.
    assert origin_keepalive < idle < keepalive
    # A stopping server is sent nothing new for longer than any request it holds can
    # last, and gunicorn's graceful stop (the deadline) ends before systemd's SIGKILL.
    assert draining > deadline
    assert deadline < int(stop)


def test_settings_agree_with_the_queues_and_pass_the_apps_validation(
    synthesized: Synthesized,
) -> None:
    queue_id, _ = synthesized.queue_ids()
    queue = synthesized.resource(queue_id)["Properties"]
    queues = set(synthesized.resources("AWS::SQS::Queue"))
    distributions = set(synthesized.resources("AWS::CloudFront::Distribution"))
    media = synthesized.bucket_id("BucketOwnerEnforced")

    def deployed(reference: re.Match[str]) -> str:
        # What CloudFormation puts in place of a reference: a queue's Ref is its URL, a
        # distribution's its id (upper-case letters and digits).
        name = reference.group(1)
        if name in queues:
            return f"https://sqs.eu-west-1.amazonaws.com/123456789012/{name}"
        if name in distributions:
            return "E2QWRUHAPOMQZL"
        return name.lower().replace(".", "-")

    for role in ("worker", "server"):
        settings = synthesized.settings(role)
        assert settings["SHARER_MAX_RECEIVES"] == str(queue["RedrivePolicy"]["maxReceiveCount"])
        assert settings["SHARER_VISIBILITY_TIMEOUT"] == str(queue["VisibilityTimeout"])
        assert settings["SHARER_STORAGE_URL"] == f"s3://<{media}>"
        assert settings["SHARER_QUEUE_URL"] == f"<{queue_id}>"
        environment = {k: re.sub(r"<([\w.]+)>", deployed, v) for k, v in settings.items()}
        section = ServerSettings if role == "server" else WorkerSettings
        parsed = section.from_env({**environment, "AWS_REGION": "eu-west-1"}).common
        assert parsed.max_receives == queue["RedrivePolicy"]["maxReceiveCount"]
        assert parsed.dead_letter_queue_url is not None


def test_instances_launch_only_once_what_they_read_at_first_boot_exists(
    synthesized: Synthesized,
) -> None:
    agent_config, _ = synthesized.only(
        "AWS::SSM::Parameter",
        {"Properties": {"Name": Match.string_like_regexp("cloudwatch-agent$")}},
    )
    for role in ("worker", "server"):
        settings, _ = synthesized.only(
            "AWS::SSM::Parameter",
            {"Properties": {"Name": f"/sharer/{synthesized.stack.stack_name}/{role}"}},
        )
        group_id, _ = synthesized.group(role)
        assert {agent_config, settings} <= set(synthesized.resource(group_id)["DependsOn"])


def test_the_cli_retries_outlast_a_dead_server_in_the_balancers_rotation(
    synthesized: Synthesized,
) -> None:
    # A crashed server gets about every other request until its last failed check; a
    # client whose retries end sooner can lose a file to a run of 502/503s.
    _, group = _target_group(synthesized)
    in_rotation = group["HealthCheckIntervalSeconds"] * group["UnhealthyThresholdCount"]
    policy = dataclasses.replace(RetryPolicy(), jitter=0.0)
    waits = sum(policy.delay(attempt, None) for attempt in range(1, policy.attempts))
    assert waits > in_rotation
