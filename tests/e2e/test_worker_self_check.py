"""``sharer-worker --self-check``, the real console script, on both backend pairs.

It is what a new worker on AWS must pass before it signals CloudFormation (the worker
group's creation policy and rolling updates wait for that signal), so it must pass on
backends that work and fail, naming the backend, on one that does not.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from support.services import FAKE_AWS_CREDENTIALS, aws_env, json_lines, local_env, moto_server

SELF_CHECK_TIMEOUT = 120
CHECKS = {"queue", "storage", "thumbnails"}


def _self_check(env: dict[str, str], log: Path) -> subprocess.CompletedProcess[str]:
    """Run the installed console script with only ``env`` for settings; log to ``log``."""
    script = Path(sys.executable).with_name("sharer-worker")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SHARER_", "AWS_"))}
    with log.open("w") as stderr:
        return subprocess.run(
            [str(script), "--self-check"],
            env=base | env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            timeout=SELF_CHECK_TIMEOUT,
            check=False,
        )


def _results(log: Path) -> dict[str, str]:
    """Check name -> "passed" or the error the self-check logged for it."""
    return {
        str(record["check"]): str(record.get("error", "passed"))
        for record in json_lines(log)
        if str(record["msg"]).startswith("self-check ")
    }


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's server, shared by the AWS cases."""
    with moto_server(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


def test_passes_on_the_embedded_backends(tmp_path: Path) -> None:
    log = tmp_path / "self-check.log"
    finished = _self_check(local_env(tmp_path / "data"), log)
    assert finished.returncode == 0, log.read_text()
    assert _results(log) == dict.fromkeys(CHECKS, "passed")


def test_passes_against_s3_and_sqs(moto_endpoint: str, tmp_path: Path) -> None:
    log = tmp_path / "self-check.log"
    finished = _self_check(aws_env(moto_endpoint, bucket="self-check-ok"), log)
    assert finished.returncode == 0, log.read_text()
    assert _results(log) == dict.fromkeys(CHECKS, "passed")


def test_fails_naming_the_bucket_it_cannot_reach(moto_endpoint: str, tmp_path: Path) -> None:
    log = tmp_path / "self-check.log"
    env = aws_env(moto_endpoint, bucket="self-check-bucket") | {
        "SHARER_STORAGE_URL": "s3://self-check-no-such-bucket"
    }
    finished = _self_check(env, log)
    assert finished.returncode == 1
    results = _results(log)
    assert results["storage"] != "passed"
    assert "self-check-no-such-bucket" in results["storage"]
    assert {results["queue"], results["thumbnails"]} == {"passed"}


def test_fails_naming_the_queue_it_cannot_reach(moto_endpoint: str, tmp_path: Path) -> None:
    log = tmp_path / "self-check.log"
    env = aws_env(moto_endpoint, bucket="self-check-queue")
    sqs = boto3.client(
        "sqs",
        endpoint_url=moto_endpoint,
        region_name=FAKE_AWS_CREDENTIALS["AWS_REGION"],
        aws_access_key_id=FAKE_AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    # A dead-letter queue gone is a worker that cannot put poison jobs aside.
    sqs.delete_queue(QueueUrl=env["SHARER_DEAD_LETTER_QUEUE_URL"])
    finished = _self_check(env, log)
    assert finished.returncode == 1
    assert "queue:" in finished.stdout + log.read_text()
    results = _results(log)
    assert results["queue"] != "passed"
    assert {results["storage"], results["thumbnails"]} == {"passed"}
