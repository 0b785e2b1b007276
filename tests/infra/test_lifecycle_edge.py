"""Lifecycle matrix cells (docs/deploy.md) of the edge and upload tier not covered beside
their constructs: what `cdk destroy` removes, and what the stack's first deploy waits for."""

import re

from cdk_synthesis import REPO_ROOT, Synthesized


def test_lifecycle_log_groups_delete_removes_the_stacks_own_log_groups(
    synthesized: Synthesized,
) -> None:
    # The worker and server log groups go with the stack (AWS::Logs::LogGroup, no
    # DeletionPolicy other than Delete), and expire before that (RetentionInDays).
    groups = synthesized.resources("AWS::Logs::LogGroup")
    assert groups
    for group in groups.values():
        assert group["DeletionPolicy"] == "Delete"
        assert group["UpdateReplacePolicy"] == "Delete"
        assert group["Properties"]["RetentionInDays"] > 0
        # A name of its own would make any replacement fail (it would already exist).
        assert "LogGroupName" not in group["Properties"]


def test_lifecycle_distribution_create_waits_for_its_vpc_origin(
    synthesized: Synthesized,
) -> None:
    # The distribution names the VPC origin by Fn::GetAtt, so CloudFormation creates (and
    # waits for) the origin first, and on a replacement switches before the old is deleted.
    _, distribution = synthesized.only("AWS::CloudFront::Distribution")
    (origin_id,) = synthesized.resources("AWS::CloudFront::VpcOrigin")
    used = [
        origin["VpcOriginConfig"]["VpcOriginId"]
        for origin in distribution["DistributionConfig"]["Origins"]
        if "VpcOriginConfig" in origin
    ]
    assert used == [{"Fn::GetAtt": [origin_id, "Id"]}]


def test_lifecycle_security_groups_replace_none_carries_a_name(synthesized: Synthesized) -> None:
    # GroupName and GroupDescription changes replace a security group; with no name of
    # its own the new one never collides with the old, which goes once nothing uses it.
    for group in synthesized.resources("AWS::EC2::SecurityGroup").values():
        assert "GroupName" not in group["Properties"]


def test_lifecycle_server_group_replace_a_change_is_a_new_launch_template_version(
    synthesized: Synthesized,
) -> None:
    # Without a LaunchTemplateName a template is never replaced: a change makes a new
    # version, and the group follows its latest one with a rolling update.
    template_id, _ = synthesized.launch_template("server")
    template = synthesized.resources("AWS::EC2::LaunchTemplate")[template_id]
    assert "LaunchTemplateName" not in template["Properties"]
    _, group = synthesized.group("server")
    assert group["LaunchTemplate"]["Version"] == {
        "Fn::GetAtt": [template_id, "LatestVersionNumber"]
    }


def test_every_test_the_lifecycle_matrix_names_exists() -> None:
    # The matrix in docs/deploy.md names the test behind each checkable cell.
    deploy = (REPO_ROOT / "docs" / "deploy.md").read_text()
    matrix = deploy[deploy.index("## Lifecycle matrix") :]
    matrix = matrix[: matrix.index("\n## ", 1)]
    named = set(re.findall(r"`(test_\w+)`", matrix))
    assert named
    defined = {
        name
        for path in (REPO_ROOT / "tests").rglob("test_*.py")
        for name in re.findall(r"^def (test_\w+)\(", path.read_text(), re.MULTILINE)
    }
    assert sorted(named - defined) == []
