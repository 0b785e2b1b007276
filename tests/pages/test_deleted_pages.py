"""Issue 25: an image deleted while a page waits on it. The share page stops polling and
shows the deleted page; the upload page's card says so and "your uploads" forgets it.

No worker runs, so an upload stays pending until the test deletes it.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from pages.conftest import Browsing
from pages.test_upload_page import choose
from support.images import jpeg
from support.services import Service, local_service

# The share page polls with backoff up to 5 s between polls, each held up to 10 s.
WAIT = 20.0


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A server with no worker: uploads stay pending."""
    yield from local_service(tmp_path_factory.mktemp("deleted-pages"), workers=0)


def _delete(service: Service, image_id: str, token: str) -> None:
    deleted = requests.delete(
        f"{service.base_url}/images/{image_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert deleted.status_code == 204


def test_a_pending_share_page_shows_the_image_was_deleted(
    service: Service, browsing: Browsing, artifacts: Path
) -> None:
    accepted = requests.post(
        f"{service.base_url}/", files={"image": ("a.jpg", jpeg((320, 240), seed=41))}, timeout=10
    )
    assert accepted.status_code == 202
    image_id = accepted.headers["Location"].rsplit("/", 1)[1]
    browsing.open(f"/i/{image_id}")
    assert browsing.driver.find_elements(By.CSS_SELECTOR, ".placeholder")
    browsing.expected_errors.append("status of 410")

    _delete(service, image_id, accepted.headers["Delete-Token"])
    # The page reloads itself: an element found just before may go stale.
    WebDriverWait(browsing.driver, WAIT, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: d.find_element(By.TAG_NAME, "h1").text == "This image was deleted"
    )
    browsing.driver.save_screenshot(str(artifacts / "share-deleted-while-pending.png"))


def test_an_upload_deleted_while_pending_is_shown_deleted_and_forgotten(
    service: Service, browsing: Browsing, tmp_path: Path
) -> None:
    browsing.open("/upload")
    photo = tmp_path / "pending.jpg"
    photo.write_bytes(jpeg((320, 240), seed=42))
    choose(browsing, photo)
    card = WebDriverWait(browsing.driver, WAIT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#uploads .card[data-image-id]") or False
    )[0]
    image_id = str(card.get_attribute("data-image-id"))
    history = browsing.driver.execute_script(
        "return JSON.parse(window.localStorage.getItem('sharer.uploads'))"
    )
    assert history is not None
    (entry,) = [e for e in history if e["id"] == image_id]
    browsing.expected_errors.append("status of 410")

    _delete(service, image_id, entry["token"])
    WebDriverWait(browsing.driver, WAIT).until(
        lambda d: card.find_element(By.CSS_SELECTOR, ".message").text == "This image was deleted."
    )
    assert not browsing.driver.find_elements(By.CSS_SELECTOR, "#history .card")


def test_a_pending_upload_deleted_while_away_is_forgotten_on_the_next_visit(
    service: Service, browsing: Browsing, tmp_path: Path
) -> None:
    browsing.open("/upload")
    photo = tmp_path / "away.jpg"
    photo.write_bytes(jpeg((320, 240), seed=43))
    choose(browsing, photo)
    WebDriverWait(browsing.driver, WAIT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#history .card") or False
    )
    (entry,) = browsing.driver.execute_script(
        "return JSON.parse(window.localStorage.getItem('sharer.uploads'))"
    )
    browsing.driver.get("about:blank")  # left while it was still being prepared

    _delete(service, entry["id"], entry["token"])
    browsing.expected_errors.append("status of 410")
    browsing.open("/upload")
    # The visit asks once after each upload still being prepared; a deleted one goes.
    WebDriverWait(browsing.driver, WAIT).until(
        lambda d: not d.find_elements(By.CSS_SELECTOR, "#history .card")
    )
    assert (
        browsing.driver.execute_script(
            "return JSON.parse(window.localStorage.getItem('sharer.uploads'))"
        )
        == []
    )
