"""No rollback of a failed update leaves a launch path naming an AMI the rollback removes.

The walk models CloudFormation over two synthesized templates, ``before`` (deployed)
and ``after`` (an update that builds a new image and then fails further on):

- A resource whose every property requires replacement (Image Builder's component,
  recipe and image: CloudFormation template reference, each property "Update requires:
  Replacement") is a new physical resource when its properties, references resolved,
  differ; any other resource is updated in place and keeps its physical id.
- During the update CloudFormation creates the replacements, so both images' AMIs exist;
  the distribution writes the new AMI's id to the parameters it configures, outside the
  stack ("Create and update AMI distribution configurations").
- Rollback puts every stack resource back to ``before`` and deletes what the update
  created ("Update behaviors of stack resources"; "Troubleshooting: update rollback");
  an image with ``DeletionSettings`` deletes its AMI with it (AWS::ImageBuilder::Image
  DeletionSettings). A parameter written outside the stack keeps its value.

A launch path is a launch template's ``ImageId``: ``Fn::GetAtt [image, ImageId]`` names
that image's AMI, ``resolve:ssm:NAME`` whatever the parameter NAME holds at launch.
"""

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from cdk_synthesis import Synthesized, synthesize

REPLACED_WHOLE = {
    "AWS::ImageBuilder::Component",
    "AWS::ImageBuilder::ImageRecipe",
    "AWS::ImageBuilder::Image",
}
RESOLVE_SSM = "resolve:ssm:"
Resources = dict[str, dict[str, Any]]


def _physical(resources: Resources, logical_id: str) -> str:
    """A name for the physical resource ``resources`` asks for under ``logical_id``: the
    same in two templates exactly when CloudFormation keeps that resource between them."""
    resource = resources[logical_id]
    if resource["Type"] not in REPLACED_WHOLE:
        return logical_id
    properties = json.dumps(_resolved(resources, resource.get("Properties", {})), sort_keys=True)
    return f"{logical_id}@{hashlib.sha256(properties.encode()).hexdigest()[:12]}"


def _resolved(resources: Resources, value: Any) -> Any:
    """``value`` with every reference to a resource replaced by that resource's physical name."""
    if isinstance(value, list):
        return [_resolved(resources, item) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and value["Ref"] in resources:
        return f"{_physical(resources, value['Ref'])}.Ref"
    if set(value) == {"Fn::GetAtt"}:
        logical_id, attribute = value["Fn::GetAtt"]
        return f"{_physical(resources, logical_id)}.{attribute}"
    return {key: _resolved(resources, item) for key, item in value.items()}


def _images(resources: Resources) -> dict[str, str]:
    """Physical name of each Image Builder image -> its logical id."""
    return {
        _physical(resources, logical_id): logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::ImageBuilder::Image"
    }


def _parameters_written(resources: Resources, image_id: str) -> list[str]:
    """The SSM parameters the image's distribution writes when the image is created."""
    arn = resources[image_id]["Properties"].get("DistributionConfigurationArn")
    if arn is None:
        return []
    distribution = resources[arn["Fn::GetAtt"][0]]["Properties"]
    return [
        parameter["ParameterName"]
        for target in distribution["Distributions"]
        for parameter in target.get("SsmParameterConfigurations", [])
    ]


@dataclass
class Account:
    """What exists outside the stack's own resources: AMIs, and parameter values that
    Image Builder wrote (not stack resources, so no rollback restores them)."""

    amis: set[str] = field(default_factory=set)
    written: dict[str, str] = field(default_factory=dict)

    def build(self, resources: Resources, physical_image: str) -> None:
        """An image is created: its AMI exists and its distribution publishes it."""
        self.amis.add(physical_image)
        for name in _parameters_written(resources, _images(resources)[physical_image]):
            self.written[name] = physical_image

    def ami_named(self, resources: Resources, image_id: Any) -> str | None:
        """The AMI a launch template's ``ImageId`` names at launch (None: nothing)."""
        if isinstance(image_id, dict) and "Fn::GetAtt" in image_id:
            logical_id, attribute = image_id["Fn::GetAtt"]
            assert attribute == "ImageId"
            return _physical(resources, logical_id)
        assert isinstance(image_id, str), image_id
        assert image_id.startswith(RESOLVE_SSM), image_id
        name = image_id.removeprefix(RESOLVE_SSM)
        for resource in resources.values():
            properties = resource.get("Properties", {})
            if resource["Type"] == "AWS::SSM::Parameter" and properties.get("Name") == name:
                # A stack parameter holds what its template says (rolled back with it).
                return self.ami_named(resources, properties["Value"])
        return self.written.get(name)


def _launch_paths(resources: Resources) -> dict[str, Any]:
    """Launch template logical id -> the ImageId its instances launch from."""
    return {
        logical_id: resource["Properties"]["LaunchTemplateData"]["ImageId"]
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::EC2::LaunchTemplate"
    }


@dataclass(frozen=True)
class Walk:
    """What the walk found: the images the update built, the AMIs its rollback deleted,
    and each launch path, at each step, that names an AMI that does not exist."""

    built_by_update: set[str]
    deleted_by_rollback: set[str]
    broken: list[tuple[str, str, str | None]]


def walk(before: Resources, after: Resources) -> Walk:
    """Create ``before``; update to ``after``, which fails after its images are built;
    roll back. Check every launch path after each step."""
    account = Account()
    broken: list[tuple[str, str, str | None]] = []

    def check(step: str, resources: Resources) -> None:
        for template_id, image_id in _launch_paths(resources).items():
            ami = account.ami_named(resources, image_id)
            if ami is None or ami not in account.amis:
                broken.append((step, template_id, ami))

    for image in _images(before):
        account.build(before, image)
    check("create", before)
    built = set(_images(after)) - set(_images(before))
    for image in built:
        account.build(after, image)
    check("update", after)
    deleted = {
        image
        for image in built
        if "DeletionSettings" in after[_images(after)[image]].get("Properties", {})
        and after[_images(after)[image]].get("DeletionPolicy") != "Retain"
    }
    account.amis -= deleted
    check("rollback", before)
    return Walk(built_by_update=built, deleted_by_rollback=deleted, broken=broken)


def test_no_rollback_leaves_a_launch_path_naming_an_ami_it_removes(
    synthesized: Synthesized, updated_synthesized: Synthesized
) -> None:
    before = synthesized.document["Resources"]
    after = updated_synthesized.document["Resources"]
    found = walk(before, after)
    # The update this walks is the dangerous one: it builds an image whose AMI the
    # rollback deletes, while both fleets launch from the image.
    assert len(found.built_by_update) == 1
    assert found.deleted_by_rollback == found.built_by_update
    assert len(_launch_paths(before)) == 2
    assert found.broken == []


def test_a_refresh_deploy_rebuilds_the_image_and_rolls_back_safely(
    synthesized: Synthesized, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # `cdk deploy -c imageRefresh=...`, how patches reach the fleets, is the same update.
    refreshed = synthesize(tmp_path_factory.mktemp("cdk.out.refresh"), {"imageRefresh": "next"})
    found = walk(synthesized.document["Resources"], refreshed.document["Resources"])
    assert len(found.built_by_update) == 1
    assert found.broken == []


def test_the_walk_finds_a_launch_path_left_on_a_deleted_ami() -> None:
    # The control: templates that resolve a parameter the distribution writes at launch
    # (how the stack launched before) break on rollback; naming the image does not.
    def template(version: str, image_id: Any) -> Resources:
        return {
            "Recipe": {
                "Type": "AWS::ImageBuilder::ImageRecipe",
                "Properties": {"Version": version},
            },
            "Distribution": {
                "Type": "AWS::ImageBuilder::DistributionConfiguration",
                "Properties": {
                    "Distributions": [{"SsmParameterConfigurations": [{"ParameterName": "/ami"}]}]
                },
            },
            "Image": {
                "Type": "AWS::ImageBuilder::Image",
                "Properties": {
                    "ImageRecipeArn": {"Fn::GetAtt": ["Recipe", "Arn"]},
                    "DistributionConfigurationArn": {"Fn::GetAtt": ["Distribution", "Arn"]},
                    "DeletionSettings": {"ExecutionRole": "deleter"},
                },
            },
            "Template": {
                "Type": "AWS::EC2::LaunchTemplate",
                "Properties": {"LaunchTemplateData": {"ImageId": image_id}},
            },
        }

    by_parameter = walk(
        template("1.0.0", "resolve:ssm:/ami"), template("1.0.1", "resolve:ssm:/ami")
    )
    assert [(step, lt) for step, lt, _ in by_parameter.broken] == [("rollback", "Template")]
    by_image = {"Fn::GetAtt": ["Image", "ImageId"]}
    assert walk(template("1.0.0", by_image), template("1.0.1", by_image)).broken == []
    # No new image, nothing to break: the parameter still names the one AMI.
    same = template("1.0.0", "resolve:ssm:/ami")
    assert walk(same, same).broken == []
