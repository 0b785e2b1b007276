"""Share pages: pending (a placeholder that updates itself), ready (the image and its
OpenGraph tags), failed, and unknown ids; each with its caching."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from pages.conftest import Browsing
from sharer.thumbnail_sizes import LARGEST_THUMBNAIL_NAME
from support.images import jpeg
from support.services import Service, local_service

WAIT = 30.0


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A server with no worker yet: uploads stay pending until a test starts one."""
    yield from local_service(tmp_path_factory.mktemp("share"), workers=0)


def upload(service: Service, data: bytes) -> str:
    """POST an image; its id."""
    response = requests.post(f"{service.base_url}/", files={"image": ("a.jpg", data)}, timeout=10)
    assert response.status_code == 202
    return str(response.headers["Location"]).rsplit("/", 1)[1]


def meta_tags(html: str) -> dict[str, str]:
    """property/name -> content of the page's meta tags."""
    return dict(re.findall(r'<meta (?:property|name)="([^"]+)" content="([^"]*)"', html))


def test_pending_page_updates_itself_ready_and_failed_pages_say_so(
    service: Service, browsing: Browsing, artifacts: Path
) -> None:
    good = upload(service, jpeg((800, 600), seed=21))
    doomed = upload(service, jpeg((320, 240), seed=22))
    # Its original vanishes before any worker reads it: the job fails (poison).
    (Path(service.env["SHARER_DATA_DIR"]) / "media" / "images" / doomed / "original.jpg").unlink()

    pending = requests.get(f"{service.base_url}/i/{good}", timeout=10)
    assert pending.status_code == 200
    assert pending.headers["Cache-Control"] == "no-cache"
    assert pending.headers["Content-Type"].startswith("text/html")
    assert "og:image" not in meta_tags(pending.text)  # nothing to unfurl yet
    assert meta_tags(pending.text)["og:url"] == f"{service.base_url}/i/{good}"

    browsing.open(f"/i/{good}")
    placeholder = browsing.driver.find_element(By.CSS_SELECTOR, ".placeholder")
    assert placeholder.get_attribute("aria-label") == "The image is still being prepared"
    browsing.driver.save_screenshot(str(artifacts / "share-pending.png"))
    service.start_worker()
    image = WebDriverWait(browsing.driver, WAIT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "figure img") or False
    )[0]
    WebDriverWait(browsing.driver, WAIT).until(
        lambda d: d.execute_script("return arguments[0].naturalWidth", image) > 0
    )

    ready = requests.get(f"{service.base_url}/i/{good}", timeout=10)
    assert ready.headers["Cache-Control"] == "public, max-age=60"
    tags = meta_tags(ready.text)
    status = requests.get(f"{service.base_url}/images/{good}", timeout=10).json()
    assert tags["og:image"] == status["urls"][LARGEST_THUMBNAIL_NAME]
    assert tags["twitter:image"] == status["urls"][LARGEST_THUMBNAIL_NAME]
    csp = ready.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "img-src 'self'" in csp

    def failed(_: object) -> bool:
        state = requests.get(f"{service.base_url}/images/{doomed}", timeout=10).json()
        return bool(state["status"] == "failed")

    WebDriverWait(browsing.driver, WAIT).until(failed)
    browsing.open(f"/i/{doomed}")
    alert = browsing.driver.find_element(By.CSS_SELECTOR, "[role=alert]")
    assert alert.text == "This image could not be processed, so there is nothing to show."


def test_an_unknown_id_is_a_404_page_that_is_not_cached(
    service: Service, browsing: Browsing, artifacts: Path
) -> None:
    for image_id in ("A" * 22, "not-an-id"):
        response = requests.get(f"{service.base_url}/i/{image_id}", timeout=10)
        assert response.status_code == 404
        assert response.headers["Content-Type"].startswith("text/html")
        assert response.headers["Cache-Control"] == "no-store"
        assert "<h1>No such image</h1>" in response.text
    browsing.expected_errors.append("status of 404")
    browsing.open("/i/" + "A" * 22)
    assert browsing.driver.find_element(By.TAG_NAME, "h1").text == "No such image"
    browsing.driver.save_screenshot(str(artifacts / "share-not-found.png"))


def test_static_assets_are_fingerprinted_and_cached_for_a_year(service: Service) -> None:
    page = requests.get(f"{service.base_url}/upload", timeout=10).text
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert {a.rsplit(".", 1)[1] for a in assets} == {"css", "svg", "js"}
    for asset in assets:
        assert re.fullmatch(r"/static/[a-z]+\.[0-9a-f]{12}\.[a-z]+", asset)
        response = requests.get(service.base_url + asset, timeout=10)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    stale = re.sub(r"\.[0-9a-f]{12}\.", ".000000000000.", assets[0])
    assert requests.get(service.base_url + stale, timeout=10).status_code == 404
