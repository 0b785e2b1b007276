"""The AMI: built from an artifact of this repo, versioned by its hash, IMDSv2, encrypted."""

import re

from aws_cdk.assertions import Capture, Match
from cdk_synthesis import Synthesized, grants, render

from cdk.worker_image import COMPONENT_DOCUMENT, PARENT_IMAGES, version_from_hash


def _artifact_uri(synthesized: Synthesized) -> str:
    uri = Capture()
    synthesized.template.has_resource_properties(
        "AWS::ImageBuilder::ImageRecipe",
        {
            "Components": Match.array_with(
                [Match.object_like({"Parameters": [{"Name": "ArtifactUri", "Value": [uri]}]})]
            )
        },
    )
    return render(uri.as_object())


def _asset_hash(synthesized: Synthesized) -> str:
    (asset_hash,) = re.findall(r"^s3://.+/([0-9a-f]{64})\.zip$", _artifact_uri(synthesized))
    return str(asset_hash)


def test_component_and_recipe_versions_follow_the_artifact(synthesized: Synthesized) -> None:
    version = version_from_hash(_asset_hash(synthesized))
    _, component = synthesized.only("AWS::ImageBuilder::Component")
    _, recipe = synthesized.only("AWS::ImageBuilder::ImageRecipe")
    assert component["Version"] == recipe["Version"] == version
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert all(int(part) < 2**30 for part in version.split("."))
    assert component["Data"] == COMPONENT_DOCUMENT.read_text(encoding="utf-8")
    assert version_from_hash("f" * 64) != version_from_hash("e" + "f" * 63)


def test_artifact_holds_what_pip_install_needs_and_nothing_else(
    synthesized: Synthesized,
) -> None:
    staged = synthesized.outdir / f"asset.{_asset_hash(synthesized)}"
    top = {p.name for p in staged.iterdir()}
    assert {"pyproject.toml", "src", "image-builder"} <= top
    assert not top & {".git", ".venv", "cdk.out", "var", "bench", "node_modules", "tests"}
    assert not top & {"cdk", "app.py", "cdk.json", "docs"}
    assert (staged / "src" / "sharer" / "settings.py").is_file()
    assert (staged / "image-builder" / "systemd" / "sharer@.service").is_file()
    caches = [p for p in staged.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]
    assert caches == []


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


def test_build_instances_require_imdsv2_and_read_only_the_artifact(
    synthesized: Synthesized,
) -> None:
    _, infrastructure = synthesized.only("AWS::ImageBuilder::InfrastructureConfiguration")
    assert infrastructure["InstanceMetadataOptions"]["HttpTokens"] == "required"
    assert infrastructure["TerminateInstanceOnFailure"] is True
    assert infrastructure["InstanceTypes"] == [synthesized.stack.config.worker_instance_type]
    log_bucket = synthesized.bucket_id("BucketOwnerPreferred")
    assert infrastructure["Logging"]["S3Logs"]["S3BucketName"] == {"Ref": log_bucket}
    role_id, _ = synthesized.only(
        "AWS::IAM::Role", {"Properties": {"Description": Match.string_like_regexp("Image Builder")}}
    )
    allowed = grants(synthesized, role_id)
    uri = _artifact_uri(synthesized).removeprefix("s3://")
    assert allowed["s3:GetObject"] == {f"arn:<AWS::Partition>:s3:::{uri}"}
    assert allowed["s3:PutObject"] == {f"<{log_bucket}.Arn>/imagebuilder/*"}


def test_deploy_builds_the_image_and_publishes_its_id(synthesized: Synthesized) -> None:
    recipe_id, _ = synthesized.only("AWS::ImageBuilder::ImageRecipe")
    infrastructure_id, _ = synthesized.only("AWS::ImageBuilder::InfrastructureConfiguration")
    image_id, image = synthesized.only("AWS::ImageBuilder::Image")
    assert image["ImageRecipeArn"] == {"Fn::GetAtt": [recipe_id, "Arn"]}
    assert image["InfrastructureConfigurationArn"] == {"Fn::GetAtt": [infrastructure_id, "Arn"]}
    assert image["ImageTestsConfiguration"]["ImageTestsEnabled"] is True
    synthesized.template.has_resource_properties(
        "AWS::SSM::Parameter",
        {"DataType": "aws:ec2:image", "Value": {"Fn::GetAtt": [image_id, "ImageId"]}},
    )


def test_pipeline_rebuilds_weekly_and_updates_the_same_parameter(
    synthesized: Synthesized,
) -> None:
    recipe_id, _ = synthesized.only("AWS::ImageBuilder::ImageRecipe")
    distribution_id, distribution = synthesized.only("AWS::ImageBuilder::DistributionConfiguration")
    _, pipeline = synthesized.only("AWS::ImageBuilder::ImagePipeline")
    assert pipeline["ImageRecipeArn"] == {"Fn::GetAtt": [recipe_id, "Arn"]}
    assert pipeline["DistributionConfigurationArn"] == {"Fn::GetAtt": [distribution_id, "Arn"]}
    assert pipeline["Schedule"]["ScheduleExpression"].startswith("cron(")
    assert (
        pipeline["Schedule"]["PipelineExecutionStartCondition"]
        == "EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE"
    )
    _, parameter = synthesized.only(
        "AWS::SSM::Parameter", {"Properties": {"DataType": "aws:ec2:image"}}
    )
    (target,) = distribution["Distributions"][0]["SsmParameterConfigurations"]
    assert target == {"ParameterName": parameter["Name"], "DataType": "aws:ec2:image"}


def test_the_build_waits_for_its_permissions(synthesized: Synthesized) -> None:
    role_id, _ = synthesized.only(
        "AWS::IAM::Role", {"Properties": {"Description": Match.string_like_regexp("Image Builder")}}
    )
    (policy_id,) = synthesized.resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_id}]}}
    )
    (image,) = synthesized.resources("AWS::ImageBuilder::Image").values()
    assert policy_id in image["DependsOn"]
