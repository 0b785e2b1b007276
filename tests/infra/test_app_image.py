"""The AMI: built from this repo and its locked wheels, versioned by all that shapes it."""

import re
from typing import Any

from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Capture, Match, Template
from cdk_synthesis import Synthesized, grants, render, role_statements
from packaging.requirements import Requirement

from cdk.app_image import (
    COMPONENT_DOCUMENT,
    IMAGE_TAG,
    PARENT_IMAGES,
    AppImage,
    image_shape,
    image_version,
)
from cdk.wheelhouse import RUNTIME_LOCK


def _parameter_uri(synthesized: Synthesized, name: str) -> str:
    uri = Capture()
    synthesized.template.has_resource_properties(
        "AWS::ImageBuilder::ImageRecipe",
        {
            "Components": Match.array_with(
                [
                    Match.object_like(
                        {"Parameters": Match.array_with([{"Name": name, "Value": [uri]}])}
                    )
                ]
            )
        },
    )
    return render(uri.as_object())


def _asset_hash(synthesized: Synthesized, name: str = "ArtifactUri") -> str:
    (found,) = re.findall(r"^s3://.+/([0-9a-f]{64})\.zip$", _parameter_uri(synthesized, name))
    return str(found)


def _bare_image(architecture: str, build_instance_type: str) -> dict[str, Any]:
    """The image construct alone in a bare stack: its recipe's properties."""
    stack = Stack(App(), "Bare")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC)
        ],
    )
    AppImage(
        stack,
        "Image",
        vpc=vpc,
        architecture=architecture,
        build_instance_type=build_instance_type,
        log_bucket=s3.Bucket(stack, "Logs"),
    )
    template = Template.from_stack(stack)
    ((_, recipe),) = template.find_resources("AWS::ImageBuilder::ImageRecipe").items()
    properties: dict[str, Any] = recipe["Properties"]
    return properties


def test_versions_follow_the_artifact_the_wheels_and_the_document(
    synthesized: Synthesized,
) -> None:
    shape = image_shape(
        architecture=synthesized.stack.config.architecture,
        component_document=COMPONENT_DOCUMENT.read_text(encoding="utf-8"),
        artifact_hash=_asset_hash(synthesized),
        wheelhouse_hash=_asset_hash(synthesized, "WheelhouseUri"),
    )
    _, component = synthesized.only("AWS::ImageBuilder::Component")
    _, recipe = synthesized.only("AWS::ImageBuilder::ImageRecipe")
    assert component["Version"] == shape["components"][1]["app"]
    assert recipe["Version"] == image_version(shape)
    for version in (component["Version"], recipe["Version"]):
        assert re.fullmatch(r"\d+\.\d+\.\d+", version)
        assert all(int(part) < 2**30 for part in version.split("."))
    assert component["Data"] == COMPONENT_DOCUMENT.read_text(encoding="utf-8")


def test_anything_that_shapes_the_image_changes_the_recipe_version() -> None:
    base: dict[str, Any] = {
        "architecture": "arm64",
        "component_document": "phases: []",
        "artifact_hash": "a" * 64,
        "wheelhouse_hash": "b" * 64,
    }
    versions = {image_version(image_shape(**base))}
    for name, other in (
        ("architecture", "x86_64"),
        ("component_document", "phases: [x]"),
        ("artifact_hash", "c" * 64),
        ("wheelhouse_hash", "d" * 64),
        ("refresh", "2026-12-06"),
    ):
        versions.add(image_version(image_shape(**{**base, name: other})))
    assert len(versions) == 6
    # Without a refresh the shape (and every deployed version) is what it always was.
    assert "refresh" not in image_shape(**base)


def test_another_architecture_is_another_recipe_version() -> None:
    # Recipes are immutable: an update that kept name and version would fail.
    arm = _bare_image("arm64", "t4g.small")
    x86 = _bare_image("x86_64", "t3.small")
    assert arm["Name"] == x86["Name"]
    assert arm["Version"] != x86["Version"]
    assert render(arm["ParentImage"]) != render(x86["ParentImage"])


def test_artifact_holds_what_pip_install_needs_and_nothing_else(
    synthesized: Synthesized,
) -> None:
    staged = synthesized.outdir / f"asset.{_asset_hash(synthesized)}"
    top = {p.name for p in staged.iterdir()}
    assert {"pyproject.toml", "src", "image-builder"} <= top
    assert not top & {".git", ".venv", "cdk.out", "var", "bench", "node_modules", "tests"}
    assert not top & {"cdk", "app.py", "cdk.json", "docs", ".cache"}
    assert (staged / "src" / "sharer" / "settings.py").is_file()
    assert (staged / "image-builder" / "systemd" / "sharer@.service").is_file()
    assert (staged / "image-builder" / "requirements.lock").is_file()
    caches = [p for p in staged.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]
    assert caches == []


def test_the_wheelhouse_holds_a_wheel_of_each_locked_version_for_the_architecture(
    synthesized: Synthesized,
) -> None:
    staged = synthesized.outdir / f"asset.{_asset_hash(synthesized, 'WheelhouseUri')}"
    machine = {"arm64": "aarch64", "x86_64": "x86_64"}[synthesized.stack.config.architecture]
    # The pins that apply on the image (the lock is universal: some pins carry markers).
    image = {"python_version": "3.11", "python_full_version": "3.11.0", "sys_platform": "linux"}
    image |= {"platform_system": "Linux", "platform_machine": machine}
    pins = {}
    for line in RUNTIME_LOCK.read_text().splitlines():
        if re.match(r"[A-Za-z0-9]", line):
            requirement = Requirement(line.removesuffix("\\").strip())
            if requirement.marker is None or requirement.marker.evaluate(image):
                (pin,) = requirement.specifier
                pins[requirement.name] = pin.version
    assert {"flask", "gunicorn", "pillow", "boto3", "setuptools", "numpy"} <= pins.keys()
    wheels = {p.name for p in staged.iterdir()}
    for name, version in pins.items():
        stem = f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}-"
        (wheel,) = (w for w in wheels if w.lower().startswith(stem))
        assert wheel.endswith("-none-any.whl") or f"_{machine}" in wheel, wheel
        assert "cp311" in wheel or "py3" in wheel, wheel
    assert len(wheels) == len(pins)


def test_recipe_starts_from_amazon_linux_2023_with_an_encrypted_disk(
    synthesized: Synthesized,
) -> None:
    _, recipe = synthesized.only("AWS::ImageBuilder::ImageRecipe")
    architecture = synthesized.stack.config.architecture
    assert render(recipe["ParentImage"]).endswith(f":aws:image/{PARENT_IMAGES[architecture]}/x.x.x")
    (disk,) = recipe["BlockDeviceMappings"]
    assert disk["Ebs"]["Encrypted"] is True
    components = [render(c["ComponentArn"]) for c in recipe["Components"]]
    assert components[0].endswith(":aws:component/amazon-cloudwatch-agent-linux/x.x.x")


def test_build_instances_require_imdsv2_and_read_only_the_two_assets(
    synthesized: Synthesized,
) -> None:
    _, infrastructure = synthesized.only("AWS::ImageBuilder::InfrastructureConfiguration")
    assert infrastructure["InstanceMetadataOptions"]["HttpTokens"] == "required"
    assert infrastructure["TerminateInstanceOnFailure"] is True
    assert infrastructure["InstanceTypes"] == [synthesized.stack.config.worker_instance_type]
    log_bucket = synthesized.bucket_id("BucketOwnerPreferred")
    assert infrastructure["Logging"]["S3Logs"]["S3BucketName"] == {"Ref": log_bucket}
    role_id, _ = synthesized.only(
        "AWS::IAM::Role",
        {"Properties": {"Description": Match.string_like_regexp("build and test instances")}},
    )
    allowed = grants(synthesized, role_id)
    uris = {
        _parameter_uri(synthesized, name).removeprefix("s3://")
        for name in ("ArtifactUri", "WheelhouseUri")
    }
    assert allowed["s3:GetObject"] == {f"arn:<AWS::Partition>:s3:::{uri}" for uri in uris}
    assert allowed["s3:PutObject"] == {f"<{log_bucket}.Arn>/imagebuilder/*"}


def test_image_builder_is_the_one_owner_and_writer_of_the_ami_parameter(
    synthesized: Synthesized,
) -> None:
    distribution_id, distribution = synthesized.only("AWS::ImageBuilder::DistributionConfiguration")
    (target,) = distribution["Distributions"][0]["SsmParameterConfigurations"]
    assert target["DataType"] == "aws:ec2:image"
    # No CloudFormation parameter of that name, which a deploy would write back.
    assert not synthesized.resources(
        "AWS::SSM::Parameter", {"Properties": {"Name": target["ParameterName"]}}
    )
    _, image = synthesized.only("AWS::ImageBuilder::Image")
    _, pipeline = synthesized.only("AWS::ImageBuilder::ImagePipeline")
    for builder in (image, pipeline):
        assert builder["DistributionConfigurationArn"] == {"Fn::GetAtt": [distribution_id, "Arn"]}


def test_the_execution_role_may_run_the_build_and_test_workflows(
    synthesized: Synthesized,
) -> None:
    # Image Builder user guide, "Manage build and test workflows for Image Builder images":
    # the build and test stages are workflows run as the execution role, whose managed
    # policy is EC2ImageBuilderExecutionPolicy; they launch instances with the build role.
    _, image = synthesized.only("AWS::ImageBuilder::Image")
    _, pipeline = synthesized.only("AWS::ImageBuilder::ImagePipeline")
    assert image["ExecutionRole"] == pipeline["ExecutionRole"]
    role_id = pipeline["ExecutionRole"]["Fn::GetAtt"][0]
    role = synthesized.resources("AWS::IAM::Role")[role_id]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "imagebuilder.amazonaws.com"}
    assert [render(arn) for arn in role["ManagedPolicyArns"]] == [
        "arn:<AWS::Partition>:iam::aws:policy/EC2ImageBuilderExecutionPolicy"
    ]
    _, infrastructure = synthesized.only("AWS::ImageBuilder::InfrastructureConfiguration")
    profile_id = infrastructure["InstanceProfileName"]["Ref"]
    profile = synthesized.resources("AWS::IAM::InstanceProfile")[profile_id]["Properties"]
    (build_role,) = profile["Roles"]
    (passing,) = [s for s in role_statements(synthesized, role_id) if s.actions == ["iam:PassRole"]]
    assert passing.resources == [f"<{build_role['Ref']}.Arn>"]
    assert passing.conditions == {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}


def test_the_build_instance_has_what_image_builder_requires(synthesized: Synthesized) -> None:
    # Image Builder user guide, "Use AWS managed policies for EC2 Image Builder": the build
    # and test instances' role carries EC2InstanceProfileForImageBuilder, and SSM's core
    # policy lets SSM run the components on them.
    _, infrastructure = synthesized.only("AWS::ImageBuilder::InfrastructureConfiguration")
    profile_id = infrastructure["InstanceProfileName"]["Ref"]
    profile = synthesized.resources("AWS::IAM::InstanceProfile")[profile_id]["Properties"]
    (build_role,) = profile["Roles"]
    role = synthesized.resources("AWS::IAM::Role")[build_role["Ref"]]["Properties"]
    assert sorted(render(arn) for arn in role["ManagedPolicyArns"]) == [
        "arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore",
        "arn:<AWS::Partition>:iam::aws:policy/EC2InstanceProfileForImageBuilder",
    ]


def test_the_execution_role_may_write_the_ami_parameter(synthesized: Synthesized) -> None:
    # Image Builder user guide, "Create and update AMI distribution configurations": the
    # execution role needs ssm:PutParameter on the parameter (the service-linked role may
    # only write under /imagebuilder/), and ec2:DescribeImages for aws:ec2:image.
    _, distribution = synthesized.only("AWS::ImageBuilder::DistributionConfiguration")
    (target,) = distribution["Distributions"][0]["SsmParameterConfigurations"]
    _, pipeline = synthesized.only("AWS::ImageBuilder::ImagePipeline")
    role_id = pipeline["ExecutionRole"]["Fn::GetAtt"][0]
    allowed = grants(synthesized, role_id)
    parameter = target["ParameterName"].lstrip("/")
    assert allowed["ssm:PutParameter"] == {
        f"arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/{parameter}"
    }
    assert allowed["ec2:DescribeImages"] == {"*"}
    assert set(allowed) == {"ssm:PutParameter", "ec2:DescribeImages", "iam:PassRole"}


def test_pipeline_rebuilds_weekly_when_a_dependency_updates(synthesized: Synthesized) -> None:
    recipe_id, _ = synthesized.only("AWS::ImageBuilder::ImageRecipe")
    _, pipeline = synthesized.only("AWS::ImageBuilder::ImagePipeline")
    assert pipeline["ImageRecipeArn"] == {"Fn::GetAtt": [recipe_id, "Arn"]}
    assert pipeline["Schedule"]["ScheduleExpression"].startswith("cron(")
    assert (
        pipeline["Schedule"]["PipelineExecutionStartCondition"]
        == "EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE"
    )


def test_old_amis_and_snapshots_are_deleted(synthesized: Synthesized) -> None:
    _, image = synthesized.only("AWS::ImageBuilder::Image")
    _, pipeline = synthesized.only("AWS::ImageBuilder::ImagePipeline")
    _, policy = synthesized.only("AWS::ImageBuilder::LifecyclePolicy")
    # A replaced deploy-time image takes its AMI and snapshots with it...
    deleter = image["DeletionSettings"]["ExecutionRole"]
    assert policy["ExecutionRole"] == deleter
    role = synthesized.resources("AWS::IAM::Role")[deleter["Fn::GetAtt"][0]]["Properties"]
    assert [render(arn) for arn in role["ManagedPolicyArns"]] == [
        "arn:<AWS::Partition>:iam::aws:policy/service-role/EC2ImageBuilderLifecycleExecutionPolicy"
    ]
    # ...and of the rebuilds (tagged by the pipeline), only the newest are kept.
    assert policy["ResourceType"] == "AMI_IMAGE"
    assert policy["ResourceSelection"]["TagMap"] == pipeline["ImageTags"]
    assert IMAGE_TAG in pipeline["ImageTags"]
    (detail,) = policy["PolicyDetails"]
    assert detail["Action"] == {
        "Type": "DELETE",
        "IncludeResources": {"Amis": True, "Snapshots": True},
    }
    assert detail["Filter"]["Type"] == "COUNT"
    assert detail["Filter"]["Value"] >= 1


def test_the_build_waits_for_its_permissions(synthesized: Synthesized) -> None:
    (image,) = synthesized.resources("AWS::ImageBuilder::Image").values()
    for description in ("build and test instances", "build, test and distribution"):
        role_id, _ = synthesized.only(
            "AWS::IAM::Role",
            {"Properties": {"Description": Match.string_like_regexp(description)}},
        )
        (policy_id,) = synthesized.resources(
            "AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_id}]}}
        )
        assert policy_id in image["DependsOn"]
