"""Liveness against dependency health, over real HTTP to real gunicorn (AWS Builders'
Library, "Implementing health checks"): while S3 and SQS fail, the deep check says so
and the liveness check, which the balancer and Auto Scaling act on, still answers 200 and
calls neither."""

import pytest
import requests

from faults.conftest import Stack
from support.faults import s3_slow_down

pytestmark = pytest.mark.e2e


def test_liveness_answers_while_storage_and_queue_are_down(aws_stack: Stack) -> None:
    proxy = aws_stack.proxy
    assert proxy is not None
    aws_stack.service.start_server(**aws_stack.via_proxy)
    base_url = aws_stack.service.base_url
    proxy.inject(lambda request: True, s3_slow_down())
    deep = requests.get(f"{base_url}/healthz", timeout=60)
    assert deep.status_code == 503
    assert deep.json()["status"] == "unavailable"
    calls_during_outage = proxy.hits
    assert calls_during_outage > 0
    live = requests.get(f"{base_url}/livez", timeout=10)
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}
    assert live.headers["Cache-Control"] == "no-store"
    # Liveness made no call to S3 or SQS.
    assert proxy.hits == calls_during_outage
    proxy.heal()
    assert requests.get(f"{base_url}/healthz", timeout=60).status_code == 200
