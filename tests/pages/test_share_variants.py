"""The share page in real Chromium: at every screen density it shows a size at least as
large as the screen's pixels (when one exists), and Chromium's own Accept header gets
the AVIF variant from the thumbnail's URL."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.support.wait import WebDriverWait

from sharer.thumbnail_sizes import THUMBNAIL_NAMES
from support import accept_headers
from support.browser import chromium
from support.images import jpeg
from support.services import Service

WAIT = 30.0


@pytest.fixture(scope="module")
def ready_image(service: Service) -> dict[str, object]:
    """The status document of a 1600x1200 JPEG once its thumbnails are ready."""
    data = jpeg((1600, 1200), seed=31)
    response = requests.post(f"{service.base_url}/", files={"image": ("a.jpg", data)}, timeout=10)
    assert response.status_code == 202
    status_url = service.base_url + response.headers["Location"]
    document: dict[str, object] = requests.get(
        status_url, headers={"Prefer": "wait=20"}, timeout=30
    ).json()
    assert document["status"] == "ready"
    return document


@pytest.fixture
def shown(
    tmp_path: Path, service: Service, ready_image: dict[str, object], request: pytest.FixtureRequest
) -> Iterator[tuple[webdriver.Chrome, dict[str, object]]]:
    """Chromium at (width, scale) on the share page, its image loaded: the driver and
    what the image shows (currentSrc, CSS width, devicePixelRatio)."""
    width, scale = request.param
    with chromium(tmp_path / "profile", width=width, height=900, scale=scale) as driver:
        driver.get(f"{service.base_url}/i/{ready_image['id']}")
        script = (
            "const img = document.querySelector('figure img');"
            "return img.complete && img.naturalWidth > 0 ? {src: img.currentSrc,"
            " css: img.getBoundingClientRect().width, ratio: window.devicePixelRatio} : null;"
        )
        found: dict[str, object] = WebDriverWait(driver, WAIT).until(
            lambda d: d.execute_script(script)
        )
        yield driver, found


def _widths(document: dict[str, object]) -> dict[str, int]:
    """URL -> the width of the image behind it (thumbnails and the original)."""
    urls = document["urls"]
    sizes = document["thumbnails"]
    assert isinstance(urls, dict)
    assert isinstance(sizes, dict)
    widths = {urls[name]: size["width"] for name, size in sizes.items()}
    widths[urls["original"]] = document["width"]
    return widths


@pytest.mark.parametrize("shown", [(1100, 1), (1100, 2), (360, 3)], indirect=True)
def test_no_density_shows_a_size_scaled_up_when_a_larger_one_exists(
    shown: tuple[webdriver.Chrome, dict[str, object]], ready_image: dict[str, object]
) -> None:
    _, found = shown
    widths = _widths(ready_image)
    css, ratio = found["css"], found["ratio"]
    assert isinstance(css, (int, float))
    assert isinstance(ratio, (int, float))
    needed = min(css * ratio, max(widths.values()))
    assert widths[str(found["src"])] >= needed - 1, found  # layout rounds to a device pixel


@pytest.mark.parametrize("shown", [(1100, 1)], indirect=True)
def test_chromium_gets_the_avif_variant_with_its_own_accept_header(
    shown: tuple[webdriver.Chrome, dict[str, object]], ready_image: dict[str, object]
) -> None:
    driver, found = shown
    urls = ready_image["urls"]
    assert isinstance(urls, dict)
    shown_url = str(found["src"])
    assert shown_url in {urls[name] for name in THUMBNAIL_NAMES}
    # What Chromium sent for the image and what came back, from its network log.
    # (The Accept header is added by the network stack: it is in the extra info.)
    sent, sent_headers, answered = {}, {}, {}
    entries: list[dict[str, str]] = driver.get_log("performance")  # type: ignore[no-untyped-call]
    for entry in entries:
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message.get("method") == "Network.requestWillBeSent":
            sent[params["requestId"]] = params["request"]
        elif message.get("method") == "Network.requestWillBeSentExtraInfo":
            sent_headers[params["requestId"]] = params["headers"]
        elif message.get("method") == "Network.responseReceived":
            answered[params["requestId"]] = params["response"]
    (request_id,) = (i for i, r in sent.items() if r["url"] == shown_url)
    accept = {k.lower(): v for k, v in sent_headers[request_id].items()}["accept"]
    assert accept == accept_headers.CHROMIUM  # the string the other tests replay
    headers = {k.lower(): v for k, v in answered[request_id]["headers"].items()}
    assert answered[request_id]["mimeType"] == "image/avif"
    assert headers["vary"] == "Accept"
    # The same URL with curl's Accept is today's JPEG.
    plain = requests.get(shown_url, headers={"Accept": accept_headers.CURL}, timeout=10)
    assert plain.headers["Content-Type"] == "image/jpeg"
