"""The lifecycle matrix's rows for the image, the fleets' launch paths and their roles
(docs/deploy.md, "Lifecycle matrix"): each test is named after the cell it checks, on the
synthesized template (``synthesized``) and, for updates, on the template of a deploy that
builds a new image (``updated_synthesized``)."""

from aws_cdk.assertions import Match
from cdk_synthesis import Synthesized, launch_template_of

from cdk.app_image import IMAGE_TAG

IMAGE_BUILDER_NAMED = (
    "AWS::ImageBuilder::Component",
    "AWS::ImageBuilder::ImageRecipe",
    "AWS::ImageBuilder::InfrastructureConfiguration",
    "AWS::ImageBuilder::DistributionConfiguration",
    "AWS::ImageBuilder::ImagePipeline",
    "AWS::ImageBuilder::LifecyclePolicy",
)


def test_component_and_recipe_replace_only_with_a_new_version(
    synthesized: Synthesized, updated_synthesized: Synthesized
) -> None:
    # Every property of both requires replacement, and a name and version that exists
    # cannot be created again: a changed document must come with a new version.
    for resource_type in ("AWS::ImageBuilder::Component", "AWS::ImageBuilder::ImageRecipe"):
        before_id, before = synthesized.only(resource_type)
        after_id, after = updated_synthesized.only(resource_type)
        assert before_id == after_id
        assert before["Name"] == after["Name"]
        assert before["Version"] != after["Version"]


def test_image_create_waits_for_its_roles_and_publishes_nothing_the_fleets_read(
    synthesized: Synthesized,
) -> None:
    image_id, image = synthesized.only("AWS::ImageBuilder::Image")
    resource = synthesized.resource(image_id)
    policies = set(synthesized.resources("AWS::IAM::Policy"))
    assert len(set(resource["DependsOn"]) & policies) == 2
    for _, data in (synthesized.launch_template(r) for r in ("worker", "server")):
        assert data["ImageId"] == {"Fn::GetAtt": [image_id, "ImageId"]}
    assert image["ImageTestsConfiguration"]["ImageTestsEnabled"] is True


def test_image_replace_gives_both_launch_templates_a_version_naming_the_new_ami(
    synthesized: Synthesized, updated_synthesized: Synthesized
) -> None:
    # Same logical id, a new recipe ARN: CloudFormation replaces the image, and both
    # launch templates get a new version (their ImageId follows the new image).
    image_id, before = synthesized.only("AWS::ImageBuilder::Image")
    after_id, after = updated_synthesized.only("AWS::ImageBuilder::Image")
    assert after_id == image_id
    recipe_id, _ = synthesized.only("AWS::ImageBuilder::ImageRecipe")
    assert before["ImageRecipeArn"] == after["ImageRecipeArn"] == {"Fn::GetAtt": [recipe_id, "Arn"]}
    for role in ("worker", "server"):
        template_id, _ = updated_synthesized.launch_template(role)
        _, group = updated_synthesized.group(role)
        assert launch_template_of(group)["Version"] == {
            "Fn::GetAtt": [template_id, "LatestVersionNumber"]
        }


def test_image_delete_takes_its_ami_and_snapshots(synthesized: Synthesized) -> None:
    image_id, image = synthesized.only("AWS::ImageBuilder::Image")
    resource = synthesized.resource(image_id)
    # Retain would keep the AMI (DeletionSettings are skipped under Retain).
    assert resource.get("DeletionPolicy", "Delete") == "Delete"
    assert resource.get("UpdateReplacePolicy", "Delete") == "Delete"
    assert "ExecutionRole" in image["DeletionSettings"]


def test_lifecycle_policy_delete_never_selects_the_deploy_time_ami(
    synthesized: Synthesized,
) -> None:
    # The lifecycle policy selects by the pipeline's tag; the deploy-time image, which
    # the fleets launch, carries no such tag.
    _, image = synthesized.only("AWS::ImageBuilder::Image")
    _, policy = synthesized.only("AWS::ImageBuilder::LifecyclePolicy")
    assert set(policy["ResourceSelection"]["TagMap"]) == {IMAGE_TAG}
    assert IMAGE_TAG not in image.get("Tags", {})


def test_named_image_builder_resources_carry_the_stack_name(synthesized: Synthesized) -> None:
    # Names are per account and Region: two stacks side by side never collide, and
    # no update changes a name (a replacement under the same name would fail).
    prefix = f"{synthesized.stack.stack_name}-sharer"
    for resource_type in IMAGE_BUILDER_NAMED:
        _, properties = synthesized.only(resource_type)
        assert properties["Name"].startswith(prefix), resource_type


def test_roles_replace_freely_with_generated_names(synthesized: Synthesized) -> None:
    for logical_id, role in synthesized.resources("AWS::IAM::Role").items():
        assert "RoleName" not in role["Properties"], logical_id


def test_launch_templates_replace_never_by_name(synthesized: Synthesized) -> None:
    # An update of LaunchTemplateData is a new version of the same template; only a
    # changed name would replace it, and the templates have generated names.
    for role in ("worker", "server"):
        template_id, _ = synthesized.launch_template(role)
        assert "LaunchTemplateName" not in synthesized.resource(template_id)["Properties"]


def test_worker_group_create_and_rollback_wait_for_signals(synthesized: Synthesized) -> None:
    group_id, group = synthesized.group("worker")
    # The worker group itself: the server group waits for signals too.
    signalled = synthesized.resources(
        "AWS::AutoScaling::AutoScalingGroup",
        {
            "CreationPolicy": {
                "ResourceSignal": Match.object_like({"Count": int(group["MinSize"])})
            },
            "UpdatePolicy": Match.object_like(
                {"AutoScalingRollingUpdate": Match.object_like({"WaitOnResourceSignals": True})}
            ),
        },
    )
    assert group_id in signalled
    assert synthesized.resource(group_id)["UpdatePolicy"]["AutoScalingRollingUpdate"][
        "MinInstancesInService"
    ] >= min(int(group["MinSize"]), int(group["MaxSize"]) - 1)


def test_ami_parameter_rollback_leaves_it_alone_and_no_launch_path_reads_it(
    synthesized: Synthesized,
) -> None:
    _, distribution = synthesized.only("AWS::ImageBuilder::DistributionConfiguration")
    (target,) = distribution["Distributions"][0]["SsmParameterConfigurations"]
    name = target["ParameterName"]
    assert not synthesized.resources("AWS::SSM::Parameter", {"Properties": {"Name": name}})
    for template in synthesized.resources("AWS::EC2::LaunchTemplate").values():
        assert name not in str(template["Properties"])


def test_worker_settings_create_before_the_group(synthesized: Synthesized) -> None:
    group_id, _ = synthesized.group("worker")
    settings_id, _ = synthesized.only(
        "AWS::SSM::Parameter",
        {"Properties": {"Name": f"/sharer/{synthesized.stack.stack_name}/worker"}},
    )
    assert settings_id in synthesized.resource(group_id)["DependsOn"]
