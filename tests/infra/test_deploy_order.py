"""CloudFormation creates what a resource reads before the resource itself.

EC2 checks a launch template's ``resolve:ssm:`` image id when the template (or a new
version) is created, and CloudFormation resolves ``{{resolve:ssm:...}}`` dynamic
references when it creates the resource, so any resource that names an SSM parameter
made by this stack must depend on whatever creates that parameter, directly or through
the resources it depends on.
"""

import json
import re
from typing import Any

from cdk_synthesis import Synthesized, render

# Both forms name the parameter: "resolve:ssm:/name" and "{{resolve:ssm:/name:version}}".
RESOLVE_SSM = re.compile(r"resolve:ssm:([A-Za-z0-9_./-]+)")


def _references(value: Any) -> set[str]:
    """Logical ids a CloudFormation value refers to (Ref, Fn::GetAtt, Fn::Sub's ${...})."""
    if isinstance(value, list):
        return set().union(*(_references(item) for item in value))
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, item in value.items():
        if key == "Ref" and isinstance(item, str):
            found.add(item)
        elif key == "Fn::GetAtt":
            found.add(item[0] if isinstance(item, list) else item.split(".")[0])
        elif key == "Fn::Sub":
            text = item if isinstance(item, str) else item[0]
            found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
            found |= _references(item)
        else:
            found |= _references(item)
    return found


def _creators(resources: dict[str, Any]) -> dict[str, set[str]]:
    """Parameter name -> logical ids of the resources that create that SSM parameter."""
    creators: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::SSM::Parameter":
            creators.setdefault(render(properties["Name"]), set()).add(logical_id)
        if resource["Type"] == "AWS::ImageBuilder::Image" and (
            "DistributionConfigurationArn" in properties
        ):
            # The image build's distribution writes the parameters it configures.
            (distribution_id,) = _references(properties["DistributionConfigurationArn"])
            distribution = resources[distribution_id]["Properties"]
            for target in distribution["Distributions"]:
                for parameter in target.get("SsmParameterConfigurations", []):
                    name = render(parameter["ParameterName"])
                    creators.setdefault(name, set()).add(logical_id)
    return creators


def _dependencies(resources: dict[str, Any], start: str) -> set[str]:
    """Everything ``start`` waits for: its references and DependsOn, transitively."""
    direct = {
        logical_id: _references(resource.get("Properties", {})) | set(resource.get("DependsOn", []))
        for logical_id, resource in resources.items()
    }
    seen: set[str] = set()
    pending = [start]
    while pending:
        for dependency in direct.get(pending.pop(), set()) - seen:
            seen.add(dependency)
            pending.append(dependency)
    return seen


def test_every_reader_of_a_stack_parameter_depends_on_its_creator(
    synthesized: Synthesized,
) -> None:
    resources = synthesized.document["Resources"]
    creators = _creators(resources)
    readers = [
        (logical_id, name)
        for logical_id, resource in resources.items()
        for name in RESOLVE_SSM.findall(json.dumps(resource.get("Properties", {})))
        if name in creators
    ]
    # The image build creates the AMI parameter, but no launch template resolves it: they
    # name the image itself (tests/infra/test_rollback.py).
    ami_name = f"/sharer/{synthesized.stack.stack_name}/ami"
    assert ami_name in creators
    assert [reader for reader, name in readers if name == ami_name] == []
    unordered = [
        (reader, name)
        for reader, name in readers
        if not creators[name] & _dependencies(resources, reader)
    ]
    assert unordered == []


def test_the_check_sees_references_and_dependencies_alike() -> None:
    # The control: a reader that only Refs something depending on the creator is ordered;
    # one with no path to it is not.
    resources = {
        "Creator": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "/p"}},
        "Middle": {"Type": "X", "Properties": {}, "DependsOn": ["Creator"]},
        "Ordered": {"Type": "Y", "Properties": {"A": {"Fn::GetAtt": ["Middle", "Id"]}}},
        "Loose": {"Type": "Y", "Properties": {"ImageId": "resolve:ssm:/p"}},
    }
    assert "Creator" in _dependencies(resources, "Ordered")
    assert "Creator" not in _dependencies(resources, "Loose")
    assert _creators(resources) == {"/p": {"Creator"}}
