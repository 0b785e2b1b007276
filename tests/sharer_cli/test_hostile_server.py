"""Issue 25: ``sharer`` against a hostile or broken server on loopback (a proxy in front
of the real service that answers chosen requests itself), run as the real process.

Nothing the server says may reach the terminal with control characters in it, a 202
without what a 202 promises is refused with a clear message (exit 1, no traceback), and
``sharer delete`` sends its token only to the server it was given, and never over plain
http off this machine, unless asked.
"""

import json
import unicodedata
from pathlib import Path

import pytest

from sharer_cli.conftest import Run, sharer
from support.client import BODY_KEYS
from support.faults import Fault, FaultProxy, ProxiedRequest
from support.images import jpeg
from support.services import Service

# Retitles the terminal, clears it, and draws a fake success in green.
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[32m\r\u202eall good\x1b[0m\x9b1m"
# The same in what a header line can carry (latin-1, no CR or LF).
HEADER_ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[32mall good\x1b[0m\x9b1m"
IMAGE_ID = "uJY0FDxblqZ8mt3iTRGgUQ"
URLS = {key: f"http://127.0.0.1:1/images/{IMAGE_ID}/{key}" for key in BODY_KEYS}
TOKEN = "t" * 43


def _posts(request: ProxiedRequest) -> bool:
    return request.method == "POST"


def _accepted(body: object, location: str, token: str) -> Fault:
    return Fault(
        202,
        json.dumps(body).encode(),
        "application/json",
        headers=(("Location", location), ("Delete-Token", token)),
    )


def _assert_clean(run: Run) -> None:
    """No control or format character anywhere the terminal shows (newlines apart)."""
    for text in (run.out, run.err):
        shown = text.replace("\n", "")
        assert not [c for c in shown if unicodedata.category(c) in ("Cc", "Cf")], repr(text)
    assert "Traceback" not in run.err


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg((160, 120), seed=5))
    return path


@pytest.mark.parametrize(
    "fault",
    [
        Fault(400, json.dumps({"error": f"refused{ESCAPES}"}).encode(), "application/json"),
        Fault(418, b"<html>no</html>", "text/html", reason=HEADER_ESCAPES),
        _accepted(URLS, f"/images/{IMAGE_ID}{HEADER_ESCAPES}", TOKEN),
        _accepted(URLS, f"/images/{IMAGE_ID}", f"{TOKEN}{HEADER_ESCAPES}"),
        _accepted(URLS | {"small": f"http://x/{ESCAPES}"}, f"/images/{IMAGE_ID}", TOKEN),
    ],
    ids=["error-body", "reason", "location", "delete-token", "url"],
)
def test_nothing_the_server_says_reaches_the_terminal_raw(
    service: Service, photo: Path, fault: Fault
) -> None:
    with FaultProxy(service.base_url) as proxy:
        proxy.inject(_posts, fault)
        plain = sharer("upload", "--server", proxy.url, photo)
    assert plain.code == 1
    _assert_clean(plain)
    assert plain.out.startswith(f"{photo}: ")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"original": URLS["original"]}, f"lacks {', '.join(BODY_KEYS[1:])}"),
        (["not", "an", "object"], "not a JSON object"),
        (URLS | {"large": 7}, "no usable URL for large"),
    ],
)
def test_a_202_without_its_four_urls_is_refused_clearly(
    service: Service, photo: Path, body: object, message: str
) -> None:
    with FaultProxy(service.base_url) as proxy:
        proxy.inject(_posts, _accepted(body, f"/images/{IMAGE_ID}", TOKEN))
        run = sharer("upload", "--server", proxy.url, "--json", photo)
    assert run.code == 1
    assert "Traceback" not in run.err
    (line,) = run.json_lines()
    assert line["status"] == 202
    assert message in str(line["error"])


def test_delete_sends_the_token_only_to_the_given_server(service: Service) -> None:
    with FaultProxy(service.base_url) as elsewhere:
        elsewhere.inject(lambda request: request.method == "DELETE", Fault())
        share = f"{elsewhere.url}/i/{IMAGE_ID}"
        refused = sharer("delete", share, "--token", TOKEN, "--server", service.base_url)
        assert refused.code == 2
        assert "not on the server" in refused.err
        assert elsewhere.hits == 0
        asked = sharer(
            "delete", share, "--token", TOKEN, "--server", service.base_url, "--any-origin"
        )
        assert elsewhere.hits == 1
    assert asked.code == 1  # the real server, reached through the proxy: no such image
    assert asked.err == f"{share}: no image with that id\n"


def test_delete_refuses_plain_http_off_this_machine() -> None:
    remote = "http://images.example.test"
    run = sharer(
        "delete", f"{remote}/i/{IMAGE_ID}", "--token", TOKEN, "--server", remote, "--attempts", "1"
    )
    assert run.code == 2
    assert "plain http" in run.err
    allowed = sharer(
        "delete",
        f"{remote}/i/{IMAGE_ID}",
        "--token",
        TOKEN,
        "--server",
        remote,
        "--attempts",
        "1",
        "--allow-http",
    )
    assert allowed.code == 1  # tried, and the name does not resolve
    assert "could not reach" in allowed.err
