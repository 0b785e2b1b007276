"""The server instance and the settings both roles read at start."""

import re

from aws_cdk.assertions import Match
from cdk_synthesis import Synthesized, render

from cdk.server import CLOUDFRONT_PREFIX_LIST, PORT
from sharer.settings import load_settings


def _settings(synthesized: Synthesized, role: str) -> dict[str, str]:
    """A role's settings parameter as the EnvironmentFile the unit will read."""
    name = f"/sharer/{synthesized.stack.stack_name}/{role}"
    _, parameter = synthesized.only("AWS::SSM::Parameter", {"Properties": {"Name": name}})
    text = render(parameter["Value"])
    return dict(line.split("=", 1) for line in text.splitlines())


def test_server_runs_the_built_image_with_imdsv2_and_encrypted_disk(
    synthesized: Synthesized,
) -> None:
    image_id, _ = synthesized.only("AWS::ImageBuilder::Image")
    _, instance = synthesized.only("AWS::EC2::Instance")
    assert instance["ImageId"] == {"Fn::GetAtt": [image_id, "ImageId"]}
    assert instance["Monitoring"] is True
    assert instance["InstanceType"] == synthesized.stack.config.server_instance_type
    assert all(d["Ebs"]["Encrypted"] is True for d in instance["BlockDeviceMappings"])
    assert "sharer-start-role server " in render(instance["UserData"]["Fn::Base64"])
    template_id = instance["LaunchTemplate"]["Version"]["Fn::GetAtt"][0]
    template = synthesized.resources("AWS::EC2::LaunchTemplate")[template_id]["Properties"]
    assert template["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"] == "required"


def test_only_cloudfront_reaches_the_server_and_only_on_its_port(
    synthesized: Synthesized,
) -> None:
    _, instance = synthesized.only("AWS::EC2::Instance")
    (group_ref,) = instance["SecurityGroupIds"]
    group_id = group_ref["Fn::GetAtt"][0]
    group = synthesized.resources("AWS::EC2::SecurityGroup")[group_id]["Properties"]
    assert "SecurityGroupIngress" not in group
    _, ingress = synthesized.only(
        "AWS::EC2::SecurityGroupIngress",
        {"Properties": {"GroupId": {"Fn::GetAtt": [group_id, "GroupId"]}}},
    )
    assert (ingress["IpProtocol"], ingress["FromPort"], ingress["ToPort"]) == ("tcp", PORT, PORT)
    lookup_id = ingress["SourcePrefixListId"]["Fn::GetAtt"][0]
    lookup = synthesized.resources("Custom::AWS")[lookup_id]["Properties"]
    assert CLOUDFRONT_PREFIX_LIST in render(lookup["Update"])
    assert "CidrIp" not in ingress


def test_server_settings_name_the_cdn_and_break_no_cycle(synthesized: Synthesized) -> None:
    distribution_id, _ = synthesized.only("AWS::CloudFront::Distribution")
    settings = _settings(synthesized, "server")
    assert settings["SHARER_PUBLIC_BASE_URL"] == f"https://<{distribution_id}.DomainName>"
    assert settings["SHARER_SITE_URL"] == settings["SHARER_PUBLIC_BASE_URL"]
    assert settings["SHARER_BIND"] == f"0.0.0.0:{PORT}"
    # The instance only knows the parameter's name: nothing it depends on names the CDN.
    _, instance = synthesized.only("AWS::EC2::Instance")
    assert distribution_id not in str(instance)


def test_settings_agree_with_the_queues_and_pass_the_apps_validation(
    synthesized: Synthesized,
) -> None:
    queue_id, queue = synthesized.only("AWS::SQS::Queue", {"Properties": {"RedrivePolicy": {}}})
    queues = set(synthesized.resources("AWS::SQS::Queue"))
    media = synthesized.bucket_id("BucketOwnerEnforced")

    def deployed(reference: re.Match[str]) -> str:
        # What CloudFormation puts in place of a reference: a queue's Ref is its URL.
        name = reference.group(1)
        if name in queues:
            return f"https://sqs.eu-west-1.amazonaws.com/123456789012/{name}"
        return name.lower().replace(".", "-")

    for role in ("worker", "server"):
        settings = _settings(synthesized, role)
        assert settings["SHARER_MAX_RECEIVES"] == str(queue["RedrivePolicy"]["maxReceiveCount"])
        assert settings["SHARER_VISIBILITY_TIMEOUT"] == str(queue["VisibilityTimeout"])
        assert settings["SHARER_STORAGE_URL"] == f"s3://<{media}>"
        assert settings["SHARER_QUEUE_URL"] == f"<{queue_id}>"
        environment = {k: re.sub(r"<([\w.]+)>", deployed, v) for k, v in settings.items()}
        parsed = load_settings({**environment, "AWS_REGION": "eu-west-1"})
        assert parsed.max_receives == queue["RedrivePolicy"]["maxReceiveCount"]
        assert parsed.dead_letter_queue_url is not None


def test_instances_launch_only_once_what_they_read_at_first_boot_exists(
    synthesized: Synthesized,
) -> None:
    agent_config, _ = synthesized.only(
        "AWS::SSM::Parameter",
        {"Properties": {"Name": Match.string_like_regexp("cloudwatch-agent$")}},
    )
    worker_settings, _ = synthesized.only(
        "AWS::SSM::Parameter",
        {"Properties": {"Name": f"/sharer/{synthesized.stack.stack_name}/worker"}},
    )
    (group,) = synthesized.resources("AWS::AutoScaling::AutoScalingGroup").values()
    (instance,) = synthesized.resources("AWS::EC2::Instance").values()
    assert {agent_config, worker_settings} <= set(group["DependsOn"])
    assert agent_config in instance["DependsOn"]
