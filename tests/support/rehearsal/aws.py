"""The AWS account of the rehearsal: moto's server with IAM enforced, resources created as
the template declares them, and one IAM user per role holding that role's policies.

moto checks every request against the caller's policies once it has served
``INITIAL_NO_AUTH_ACTION_COUNT`` requests: the first three (an administrator user, its
policy, its key) are the only unauthenticated ones, everything after is signed and
checked. What moto cannot check is recorded in ``Account.limits`` (the report prints it):

- it evaluates S3 and SQS statements against the resource (object or bucket ARN, queue
  ARN), but SSM and CloudFront requests only against ``*``, so statements of those
  services are given ``*`` here; their template ARNs are compared with the emulated
  resources' ARNs instead (``resource_mismatches``);
- of the condition operators it knows only StringEquals on ``sts:ExternalId``; any other
  condition is treated as met (the ``s3:prefix`` StringLike of ListBucket, and the bucket
  policy's ``AWS:SourceArn``);
- it authorizes a multi-object delete (DeleteObjects) against the bucket's ARN, where AWS
  checks s3:DeleteObject on each key, so s3:DeleteObject statements also name the bucket
  here: which keys a role may delete in one batch is not checked (single deletes are);
- its CloudFront GET calls fail its own signature check, so what the distribution
  recorded (invalidations, its ARN) is read from moto's /moto-api/data.json (``recorded``).
  The code only ever POSTs to CloudFront (CreateInvalidation).
"""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import requests

from support.cdn import distribution_config
from support.rehearsal.template import ACCOUNT_ID, REGION, Physical, StackTemplate, Statement
from support.services import START_TIMEOUT, free_port, stop_processes, wait_until_listening

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

# The calls made before moto starts checking: create the administrator, its policy, its key.
UNCHECKED_BOOTSTRAP_CALLS = 3
ADMINISTRATOR = "rehearsal-admin"
# Services whose requests moto authorizes against the resource they name.
RESOURCE_CHECKED_SERVICES = ("s3", "sqs")
ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}


@dataclass(frozen=True)
class Credentials:
    """An IAM user's access key, as environment variables for a process."""

    user: str
    access_key_id: str
    secret_access_key: str

    def env(self) -> dict[str, str]:
        """AWS_* variables that make boto3 and the AWS CLI sign as this user."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
        }

    def session(self) -> boto3.Session:
        """A boto3 session signing as this user."""
        return boto3.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=REGION,
        )


@dataclass
class Account:
    """moto's endpoint, the administrator's credentials, and what moto cannot check."""

    endpoint: str
    admin: Credentials
    process: "subprocess.Popen[bytes]"
    limits: list[str] = field(default_factory=list)

    def client(self, service: str, credentials: Credentials | None = None) -> Any:
        """A boto3 client of ``service`` on moto, as ``credentials`` (the administrator)."""
        session = (credentials or self.admin).session()
        return session.client(service, endpoint_url=self.endpoint)  # type: ignore[call-overload]

    def s3(self, credentials: Credentials | None = None) -> "S3Client":
        """An S3 client on moto."""
        client: S3Client = self.client("s3", credentials)
        return client

    def sqs(self, credentials: Credentials | None = None) -> "SQSClient":
        """An SQS client on moto."""
        client: SQSClient = self.client("sqs", credentials)
        return client

    def cloudfront(self, credentials: Credentials | None = None) -> "CloudFrontClient":
        """A CloudFront client on moto."""
        client: CloudFrontClient = self.client("cloudfront", credentials)
        return client

    def recorded(self, service: str) -> dict[str, list[dict[str, Any]]]:
        """moto's record of ``service``'s resources, by model name (moto's own API)."""
        answer = requests.get(f"{self.endpoint}/moto-api/data.json", timeout=10)
        answer.raise_for_status()
        models: dict[str, list[dict[str, Any]]] = answer.json().get(service, {})
        return models

    def create_user(self, name: str, statements: list[dict[str, Any]]) -> Credentials:
        """An IAM user holding exactly ``statements`` (one inline policy), and its key."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        iam.put_user_policy(
            UserName=name,
            PolicyName=f"{name}-role",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return Credentials(name, key["AccessKeyId"], key["SecretAccessKey"])


@contextmanager
def moto_with_iam(log_dir: Path, *, port: int | None = None) -> Iterator[Account]:
    """moto's server on loopback with IAM enforced after the administrator is made."""
    port = port or free_port()
    log = (log_dir / "moto.log").open("ab")
    env = os.environ | {"INITIAL_NO_AUTH_ACTION_COUNT": str(UNCHECKED_BOOTSTRAP_CALLS)}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        wait_until_listening(port, process, START_TIMEOUT)
        endpoint = f"http://127.0.0.1:{port}"
        bootstrap = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="bootstrap",
            aws_secret_access_key="bootstrap",
        )
        bootstrap.create_user(UserName=ADMINISTRATOR)
        bootstrap.put_user_policy(
            UserName=ADMINISTRATOR,
            PolicyName="everything",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [ALLOW_ALL]}),
        )
        key = bootstrap.create_access_key(UserName=ADMINISTRATOR)["AccessKey"]
        admin = Credentials(ADMINISTRATOR, key["AccessKeyId"], key["SecretAccessKey"])
        yield Account(endpoint, admin, process)
    finally:
        stop_processes([process])


@dataclass(frozen=True)
class Provisioned:
    """What the template's resources became on moto: the render table and the names."""

    physical: Physical
    bucket: str
    queue_url: str
    dead_letter_queue_url: str
    distribution_id: str


def provision(template: StackTemplate, account: Account, *, cdn_domain: str) -> Provisioned:
    """Create the bucket, the queues (with the template's attributes), the distribution's
    stand-in (for its id and invalidations) and the settings parameters, as a deploy would."""
    physical: dict[str, dict[str, str]] = {}
    bucket_id = template.media_bucket()
    bucket = bucket_id.lower()
    account.s3().create_bucket(Bucket=bucket)
    physical[bucket_id] = {"Ref": bucket, "Arn": f"arn:aws:s3:::{bucket}"}
    sqs = account.sqs()
    # Dead-letter queues first: a work queue's redrive policy names one.
    queues = sorted(template.queues().items(), key=lambda item: "RedrivePolicy" in item[1])
    for logical_id, properties in queues:
        attributes: dict[str, str] = {
            key: str(properties[key])
            for key in (
                "VisibilityTimeout",
                "ReceiveMessageWaitTimeSeconds",
                "MessageRetentionPeriod",
            )
            if key in properties
        }
        if "RedrivePolicy" in properties:
            redrive = properties["RedrivePolicy"]
            target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": physical[target]["Arn"],
                    "maxReceiveCount": str(redrive["maxReceiveCount"]),
                }
            )
        url = sqs.create_queue(QueueName=logical_id, Attributes=attributes)["QueueUrl"]  # type: ignore[arg-type]
        physical[logical_id] = {
            "Ref": url,
            "QueueName": logical_id,
            "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{logical_id}",
        }
    queues_by_id = dict(queues)
    # A stand-in: only its id, its ARN and its invalidations are used.
    created = account.cloudfront().create_distribution(
        DistributionConfig=distribution_config(bucket)
    )
    distribution_id = created["Distribution"]["Id"]
    physical[template.distribution_id()] = {"Ref": distribution_id, "DomainName": cdn_domain}
    ssm = account.client("ssm")
    for role in ("server", "worker"):
        _, parameter = template.settings_parameter(role)
        ssm.put_parameter(
            Name=parameter["Name"], Value=template.settings(role, physical), Type="String"
        )
    # The thumbnail jobs' pair (the webhook events have a pair of their own).
    (work_queue,) = (k for k, p in queues if "RedrivePolicy" in p and k.startswith("JobQueues"))
    dead_letter_queue = queues_by_id[work_queue]["RedrivePolicy"]["deadLetterTargetArn"][
        "Fn::GetAtt"
    ][0]
    return Provisioned(
        physical=physical,
        bucket=bucket,
        queue_url=physical[work_queue]["Ref"],
        dead_letter_queue_url=physical[dead_letter_queue]["Ref"],
        distribution_id=distribution_id,
    )


def role_identity(
    template: StackTemplate, account: Account, provisioned: Provisioned, role: str
) -> Credentials:
    """An IAM user with exactly ``role``'s statements from the template (see the module
    docstring for what moto makes of them)."""
    statements = template.role_statements(role, provisioned.physical)
    policy = [_as_moto_checks_it(statement, account, role) for statement in statements]
    return account.create_user(role, policy)


def _as_moto_checks_it(statement: Statement, account: Account, role: str) -> dict[str, Any]:
    services = {action.split(":", 1)[0] for action in statement.actions}
    resources: list[str] | str = list(statement.resources)
    if not services <= set(RESOURCE_CHECKED_SERVICES):
        resources = "*"
        account.limits.append(
            f"{role}: {', '.join(statement.actions)} checked on the action only "
            f"(template resource {', '.join(statement.resources)})"
        )
    if "s3:DeleteObject" in statement.actions and isinstance(resources, list):
        buckets = sorted({r.split("/", 1)[0] for r in resources})
        resources += buckets
        account.limits.append(
            f"{role}: s3:DeleteObject also granted on {', '.join(buckets)}, as moto checks "
            "DeleteObjects on the bucket (AWS checks each key)"
        )
    document: dict[str, Any] = {"Effect": "Allow", "Action": list(statement.actions)}
    document["Resource"] = resources
    if statement.conditions:
        document["Condition"] = dict(statement.conditions)
        account.limits.append(
            f"{role}: condition {json.dumps(statement.conditions)} on "
            f"{', '.join(statement.actions)} not evaluated (treated as met)"
        )
    return document
