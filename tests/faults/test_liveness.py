"""Liveness against dependency health, over real HTTP to real gunicorn (AWS Builders'
Library, "Implementing health checks"): while S3 and SQS fail, the deep check says so
and the liveness check, which the balancer and Auto Scaling act on, still answers 200 and
calls neither."""

import http.client

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


@pytest.mark.parametrize("spelling", ["/%68ealthz", "/healt%68z", "/%2Fhealthz"])
def test_the_dependency_check_answers_only_the_spelling_the_balancer_refuses(
    local_stack: Stack, spelling: str
) -> None:
    # The balancer's rule matches /healthz as sent; routing decodes %68 to h. Any other
    # spelling would pass the balancer and reach the deep check, so the app refuses it.
    local_stack.service.start_server()
    host, port = local_stack.service.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", spelling)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status == 404, body
    assert response.getheader("Content-Type") == "application/json"
    assert requests.get(f"{local_stack.service.base_url}/healthz", timeout=10).status_code == 200
