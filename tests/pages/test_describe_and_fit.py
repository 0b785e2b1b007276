"""The upload page's description field and its fit for photos over the limit, in headless
Chromium against a server of its own: a small limit (so the photos over it are quick to
make), formats narrowed by the operator (the page must name those, not a copy of its
own), and originals stored as sent (so what the browser removed is seen to be gone)."""

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import ExifTags, Image
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from pages.conftest import Browsing
from pages.test_upload_page import WAIT, pick, ready_cards, share_link, upload_all, write
from server.pages.routes import size_text
from support import images
from support.services import Service, local_service

LIMIT = 300_000
FORMATS = "jpeg,png,webp,heif"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """Overrides the package's service: see the module docstring."""
    yield from local_service(
        tmp_path_factory.mktemp("pages-fit"),
        env={
            "SHARER_MAX_UPLOAD_BYTES": str(LIMIT),
            "SHARER_ACCEPTED_FORMATS": FORMATS,
            "SHARER_STRIP_ORIGINAL_METADATA": "false",
        },
    )


def _card(browsing: Browsing) -> WebElement:
    return browsing.driver.find_element(By.CSS_SELECTOR, "#uploads .card")


def _status(card: WebElement) -> dict[str, object]:
    document: dict[str, object] = requests.get(
        share_link(card).replace("/i/", "/images/"), timeout=10
    ).json()
    return document


def _posts(browsing: Browsing) -> list[str]:
    return [url for method, url in browsing.network.requests() if method == "POST"]


def test_the_page_names_the_servers_formats_and_limit(browsing: Browsing) -> None:
    browsing.open("/upload")
    limits = browsing.driver.find_element(By.ID, "limits").text
    assert limits.startswith(f"JPEG, PNG, WebP or HEIF, at most {size_text(LIMIT)} each.")
    accept = str(browsing.driver.find_element(By.ID, "file-input").get_attribute("accept"))
    assert set(accept.split(",")) == {
        "image/jpeg", ".jpg", ".jpeg", "image/png", ".png", "image/webp", ".webp",
        "image/heic", ".heic", "image/heif", ".heif",
    }  # fmt: skip


def test_a_description_is_written_edited_then_sent_with_the_image(
    browsing: Browsing, tmp_path: Path, artifacts: Path
) -> None:
    browsing.open("/upload")
    pick(browsing, write(tmp_path, "kite.png", images.png((160, 120), seed=51)))
    field = _card(browsing).find_element(By.CSS_SELECTOR, "textarea")
    label = browsing.driver.find_element(
        By.CSS_SELECTOR, f"label[for='{field.get_attribute('id')}']"
    )
    assert label.text == "Description (alt text), optional"
    field.send_keys("A blue kite\nover the dune")
    field.clear()  # changed their mind: what is sent is what the field holds at Upload
    field.send_keys("A red kite\nover the dune")
    browsing.driver.save_screenshot(str(artifacts / "upload-describe.png"))
    assert _posts(browsing) == []  # nothing is sent while it is being described
    _card(browsing).find_element(By.XPATH, ".//button[text()='Upload']").click()

    (card,) = ready_cards(browsing, 1)
    described = "A red kite\nover the dune"
    assert _status(card)["description"] == described
    assert card.find_element(By.CSS_SELECTOR, ".thumb img").get_attribute("alt") == described
    browsing.driver.get(share_link(card))
    figure = browsing.driver.find_element(By.CSS_SELECTOR, "figure img")
    assert figure.get_attribute("alt") == described
    og = browsing.driver.find_element(By.CSS_SELECTOR, "meta[property='og:description']")
    assert og.get_attribute("content") == described


def test_a_photo_over_the_limit_is_fitted_only_with_consent_upright_and_without_location(
    browsing: Browsing, tmp_path: Path, artifacts: Path
) -> None:
    # Stored 800x600 with EXIF orientation 6 (to be turned clockwise) and a position.
    big = images.jpeg((800, 600), grain=30, quality=97, orientation=6, gps=True)
    assert len(big) > LIMIT
    browsing.open("/upload")
    pick(browsing, write(tmp_path, "IMG_1234.jpg", big))
    card = _card(browsing)
    message = card.find_element(By.CSS_SELECTOR, ".message")
    assert message.text == f"Too large: {size_text(len(big))}; the limit is {size_text(LIMIT)}."
    send = card.find_element(By.XPATH, ".//button[text()='Upload']")
    assert not send.is_enabled()
    fit = WebDriverWait(browsing.driver, WAIT).until(
        lambda _: card.find_elements(By.CSS_SELECTOR, "button.secondary") or False
    )[0]
    assert fit.text == f"Fit it to {size_text(LIMIT)}"
    assert "without its location" in card.find_element(By.CSS_SELECTOR, ".note").text
    fit.click()

    WebDriverWait(browsing.driver, WAIT).until(lambda _: message.text.startswith("Fitted: "))
    assert _posts(browsing) == []  # fitted, but not sent until the person says so
    # Both sizes, and the pixels: upright (portrait) before and after.
    assert message.text.startswith(f"Fitted: {size_text(len(big))} \u2192 ")
    assert "600\u00d7800 \u2192 " in message.text
    browsing.driver.save_screenshot(str(artifacts / "upload-fitted.png"))
    assert send.text == "Upload the fitted copy"
    fitted = message.text
    send.click()

    (card,) = ready_cards(browsing, 1)
    status = _status(card)
    urls = status["urls"]
    assert isinstance(urls, dict)
    sent = requests.get(urls["original"], timeout=10).content  # stored as sent
    assert len(sent) <= LIMIT
    assert f"\u2192 {size_text(len(sent))}," in fitted  # the size shown is the size sent
    with Image.open(io.BytesIO(sent)) as stored:
        assert stored.format == "JPEG"
        assert stored.height > stored.width  # turned upright by the browser
        exif = stored.getexif()
        assert ExifTags.IFD.GPSInfo not in exif
        assert ExifTags.Base.Orientation not in exif


def test_heic_goes_through_and_chromium_says_why_it_cannot_fit_a_big_one(
    browsing: Browsing, tmp_path: Path
) -> None:
    big = images.heif((900, 700), seed=7, quality=-1)
    assert len(big) > LIMIT
    browsing.open("/upload")
    pick(browsing, write(tmp_path, "IMG_0002.HEIC", big))
    note = _card(browsing).find_element(By.CSS_SELECTOR, ".note")
    WebDriverWait(browsing.driver, WAIT).until(lambda _: "HEIC" in note.text)
    assert "sharer upload --fit" in note.text

    pick(browsing, write(tmp_path, "IMG_0001.HEIC", images.heif((320, 240), seed=8)))
    upload_all(browsing)  # only the one under the limit is ready to go
    (card,) = ready_cards(browsing, 1)
    status = _status(card)
    urls = status["urls"]
    assert isinstance(urls, dict)
    assert str(urls["original"]).endswith(".heic")
    assert len(_posts(browsing)) == 1
