"""Issue 25: a trusted ``X-Forwarded-For`` entry is logged (and counted per client) only
if it is an IP address. Over real HTTP to gunicorn trusting one proxy hop."""

import uuid
from collections.abc import Iterator

import pytest
import requests

from support.services import Service, local_service


@pytest.fixture(scope="module")
def behind_one_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The server trusting one proxy's ``X-Forwarded-For`` entry."""
    yield from local_service(
        tmp_path_factory.mktemp("forwarded"), workers=0, env={"SHARER_FORWARDED_HOPS": "1"}
    )


def _logged_client(service: Service, forwarded_for: str) -> object:
    request_id = uuid.uuid4().hex
    response = requests.get(
        f"{service.base_url}/healthz",
        headers={"X-Forwarded-For": forwarded_for, "X-Request-Id": request_id},
        timeout=10,
    )
    assert response.status_code == 200
    (line,) = [
        r
        for r in service.logs("server")
        if r.get("msg") == "request" and r.get("request_id") == request_id
    ]
    return line["client"]


@pytest.mark.parametrize(
    "entry", ["<img src=x>", "unknown", "203.0.113.9:443", "fe80::1%eth0", "999.0.0.1"]
)
def test_an_entry_that_is_no_address_is_logged_as_the_peer(
    behind_one_proxy: Service, entry: str
) -> None:
    assert _logged_client(behind_one_proxy, f"6.6.6.6, {entry}") == "127.0.0.1"


@pytest.mark.parametrize("entry", ["203.0.113.9", "2001:db8::9"])
def test_an_address_is_logged_as_the_client(behind_one_proxy: Service, entry: str) -> None:
    assert _logged_client(behind_one_proxy, f"6.6.6.6, {entry}") == entry
