"""``python -m server.routable_wait``: a booting server's last step before cfn-signal.

A rolling update stops an old server once the new one signals, so the signal must mean
that the balancer routes to the new one. A server answering its own liveness check is
not that yet: the target group first needs its healthy-threshold of consecutive passing
checks, one interval apart, through the security groups and on the port the balancer
uses. Counting those checks locally would copy the target group's settings and still miss
what only the balancer sees, so this asks the balancer itself
(``elasticloadbalancing:DescribeTargetHealth``) and succeeds once it calls this instance
``healthy``: the state in which it routes requests to it (ELB User Guide, "Health checks
for Application Load Balancer target groups").

Exit status 0 once healthy, 1 when ``--seconds`` pass first; cfn-signal sends it.
"""

import argparse
import time
import urllib.request
from collections.abc import Sequence
from typing import Any

import boto3

HEALTHY = "healthy"
IMDS = "http://169.254.169.254/latest"


def target_state(client: Any, target_group_arn: str, instance_id: str) -> str:
    """The balancer's state for ``instance_id`` in the target group (initial, healthy...)."""
    answer = client.describe_target_health(
        TargetGroupArn=target_group_arn, Targets=[{"Id": instance_id}]
    )
    (description,) = answer["TargetHealthDescriptions"]
    return str(description["TargetHealth"]["State"])


def wait_until_routable(
    client: Any, target_group_arn: str, instance_id: str, *, seconds: float, interval: float
) -> bool:
    """Poll until the balancer calls the instance healthy (True) or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while True:
        state = target_state(client, target_group_arn, instance_id)
        if state == HEALTHY:
            return True
        if time.monotonic() + interval > deadline:
            print(f"routable_wait: target {instance_id} still {state} after {seconds:g} s")
            return False
        time.sleep(interval)


def instance_id_from_metadata() -> str:
    """This instance's id, through IMDSv2 (the launch templates require it)."""
    token_request = urllib.request.Request(  # noqa: S310
        f"{IMDS}/api/token",
        method="PUT",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
    )
    # A constant http:// URL (the link-local metadata service), never user input.
    with urllib.request.urlopen(token_request, timeout=5) as answer:  # noqa: S310
        token = answer.read().decode()
    id_request = urllib.request.Request(  # noqa: S310
        f"{IMDS}/meta-data/instance-id", headers={"X-aws-ec2-metadata-token": token}
    )
    with urllib.request.urlopen(id_request, timeout=5) as answer:  # noqa: S310
        return str(answer.read().decode())


def main(argv: Sequence[str] | None = None) -> int:
    """Wait for this instance (or ``--instance-id``) to be healthy in the target group."""
    parser = argparse.ArgumentParser(prog="python -m server.routable_wait")
    parser.add_argument("--target-group-arn", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--instance-id", help="default: this instance's, from IMDSv2")
    args = parser.parse_args(argv)
    instance_id = args.instance_id or instance_id_from_metadata()
    client = boto3.client("elbv2", region_name=args.region)
    routable = wait_until_routable(
        client,
        args.target_group_arn,
        instance_id,
        seconds=args.seconds,
        interval=args.interval,
    )
    return 0 if routable else 1


if __name__ == "__main__":
    raise SystemExit(main())
