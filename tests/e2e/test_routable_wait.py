"""The server's boot signal waits for the balancer's own verdict: the real module as a
process, asking moto's ELBv2 (over HTTP) for the target's health."""

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from support.services import FAKE_AWS_CREDENTIALS, moto_server

REGION = FAKE_AWS_CREDENTIALS["AWS_REGION"]


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


def _session() -> boto3.Session:
    return boto3.Session(
        region_name=REGION,
        aws_access_key_id=FAKE_AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def _ec2(endpoint: str) -> Any:
    return _session().client("ec2", endpoint_url=endpoint)


def _elbv2(endpoint: str) -> Any:
    return _session().client("elbv2", endpoint_url=endpoint)


def _target_group_and_instance(endpoint: str, name: str) -> tuple[str, str]:
    ec2, elbv2 = _ec2(endpoint), _elbv2(endpoint)
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    image_id = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)["Instances"][0]
    group = elbv2.create_target_group(Name=name, Protocol="HTTP", Port=8080, VpcId=vpc_id)
    return group["TargetGroups"][0]["TargetGroupArn"], instance["InstanceId"]


def _wait(endpoint: str, tmp_path: Path, arn: str, instance_id: str, seconds: float) -> int:
    env = os.environ | FAKE_AWS_CREDENTIALS | {"AWS_ENDPOINT_URL": endpoint}
    result = subprocess.run(
        [
            sys.executable, "-m", "server.routable_wait",
            "--target-group-arn", arn, "--region", REGION, "--instance-id", instance_id,
            "--seconds", str(seconds), "--interval", "0.5",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    return result.returncode


def test_a_server_not_yet_routed_to_does_not_signal_success(endpoint: str, tmp_path: Path) -> None:
    arn, instance_id = _target_group_and_instance(endpoint, "not-registered")
    assert _wait(endpoint, tmp_path, arn, instance_id, seconds=2) == 1


def test_the_signal_waits_until_the_balancer_calls_the_server_healthy(
    endpoint: str, tmp_path: Path
) -> None:
    arn, instance_id = _target_group_and_instance(endpoint, "registered-later")
    elbv2 = _elbv2(endpoint)
    registering = threading.Timer(
        1.5, lambda: elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": instance_id}])
    )
    registering.start()
    try:
        assert _wait(endpoint, tmp_path, arn, instance_id, seconds=30) == 0
    finally:
        registering.cancel()
