"""The upload page in a real browser: choose, drop and paste files, progress,
thumbnails, share links, refusals and "your uploads"."""

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from pages.conftest import Browsing
from server.idempotent_uploads import UploadInProgress
from server.inspection import unsupported_message
from sharer.formats import ACCEPTED
from sharer.idempotency_records import decode_record, record_key
from sharer.thumbnail_sizes import THUMBNAIL_NAMES, THUMBNAIL_SIZES
from support.faults import Fault, FaultProxy, ProxiedRequest, answer_lost, service_busy
from support.images import jpeg, png
from support.services import Service, service_storage

WAIT = 30.0
SHARE_LINK = re.compile(r"^http://127\.0\.0\.1:\d+/i/[A-Za-z0-9_-]{22}$")


def write(directory: Path, name: str, data: bytes) -> Path:
    """A file for the browser to pick."""
    path = directory / name
    path.write_bytes(data)
    return path


def pick(browsing: Browsing, *paths: Path) -> None:
    """Pick files in the page's file input, as the file dialog would (each waits in its
    card for a description)."""
    field = browsing.driver.find_element(By.ID, "file-input")
    field.send_keys("\n".join(str(p) for p in paths))


def upload_all(browsing: Browsing) -> None:
    """Press "Upload all" once it shows."""
    button = browsing.driver.find_element(By.ID, "upload-all")
    WebDriverWait(browsing.driver, WAIT).until(lambda _: button.is_displayed())
    button.click()


def choose(browsing: Browsing, *paths: Path) -> None:
    """Pick files and send them as they are, without descriptions."""
    pick(browsing, *paths)
    upload_all(browsing)


def ready_cards(browsing: Browsing, count: int) -> list[WebElement]:
    """Wait until ``count`` upload cards show a loaded thumbnail and a share link."""

    def loaded(driver: webdriver.Chrome) -> list[WebElement] | Literal[False]:
        cards = driver.find_elements(By.CSS_SELECTOR, "#uploads .card")
        done = [
            card
            for card in cards
            if card.find_elements(By.CSS_SELECTOR, ".thumb img")
            and shown(driver, card.find_element(By.CSS_SELECTOR, ".thumb img"))
        ]
        return done if len(done) >= count else False

    result: list[WebElement] = WebDriverWait(browsing.driver, WAIT).until(loaded)
    return result


def shown(driver: webdriver.Chrome, image: WebElement) -> bool:
    """Has ``image`` loaded (a broken or pending one has no natural width)?"""
    return bool(driver.execute_script("return arguments[0].naturalWidth > 0", image))


def share_link(card: WebElement) -> str:
    """The share URL a card offers."""
    return str(card.find_element(By.CSS_SELECTOR, ".share-row input").get_attribute("value"))


def posts_recording_keys(keys: list[str]) -> Callable[[ProxiedRequest], bool]:
    """A proxy rule matching the uploads (POSTs), noting each one's Idempotency-Key in
    ``keys`` ("" when it has none)."""

    def posts(request: ProxiedRequest) -> bool:
        if request.method != "POST":
            return False
        keys.append(request.headers.get("idempotency-key", ""))
        return True

    return posts


def upload_in_progress() -> Fault:
    """The server's 409 for an upload whose key is still being taken (as
    ``UploadInProgress`` answers it), for the page to explain."""
    conflict = UploadInProgress()
    body = json.dumps({"error": conflict.description}).encode()
    return Fault(
        409, body, "application/json", headers=(("Retry-After", str(conflict.retry_after)),)
    )


def failed_upload_through(proxy: FaultProxy, browsing: Browsing, photo: Path) -> WebElement:
    """Load the upload page through ``proxy``, upload ``photo`` and wait for its card's
    error message (the proxy's rule makes the upload fail)."""
    browsing.other_origins.append(proxy.url)
    browsing.driver.get(f"{proxy.url}/upload")
    choose(browsing, photo)
    messages: list[WebElement] = WebDriverWait(browsing.driver, WAIT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#uploads .card .message.error") or False
    )
    return messages[0]


def test_chosen_file_shows_progress_then_thumbnails_then_a_share_link(
    browsing: Browsing, tmp_path: Path, artifacts: Path
) -> None:
    browsing.open("/upload")
    # Throttle the upload so the bar has time to move: real progress events, not a jump.
    browsing.driver.set_network_conditions(
        offline=False, latency=5, download_throughput=10 * 1024 * 1024, upload_throughput=256 * 1024
    )
    photo = write(tmp_path, "holiday.jpg", jpeg((1600, 1200), grain=12, quality=90))
    choose(browsing, photo)
    progress = browsing.driver.find_element(By.CSS_SELECTOR, "#uploads .card progress")
    assert progress.get_attribute("aria-label") == "Upload of holiday.jpg"
    seen: set[int] = set()

    def halfway(driver: object) -> bool:
        value = progress.get_attribute("value")
        seen.add(int(float(value or 0)))
        return any(0 < v < 100 for v in seen)

    WebDriverWait(browsing.driver, WAIT, poll_frequency=0.05).until(halfway)
    browsing.driver.save_screenshot(str(artifacts / "upload-progress.png"))
    browsing.driver.delete_network_conditions()
    (card,) = ready_cards(browsing, 1)
    link = share_link(card)
    assert SHARE_LINK.match(link)
    assert card.find_element(By.CSS_SELECTOR, ".thumb img").get_attribute("alt") == (
        "Thumbnail of holiday.jpg"
    )
    assert card.find_element(By.CSS_SELECTOR, ".message").text == "Ready to share"
    browsing.driver.save_screenshot(str(artifacts / "upload-ready.png"))
    # Every size the server makes, named as the API names them: the smallest as the
    # card's picture, a link to each other one and to the original.
    image_id = link.rsplit("/", 1)[1]
    status = requests.get(f"{browsing.base_url}/images/{image_id}", timeout=10).json()
    picture = card.find_element(By.CSS_SELECTOR, ".thumb img").get_attribute("src")
    assert picture == status["urls"][THUMBNAIL_NAMES[0]]
    size_links = [
        (a.text, a.get_attribute("href")) for a in card.find_elements(By.CSS_SELECTOR, ".sizes a")
    ]
    assert size_links == [
        (name.capitalize(), status["urls"][name]) for name in (*THUMBNAIL_NAMES[1:], "original")
    ]

    # The copy button puts the share link on the clipboard.
    browsing.driver.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": browsing.base_url, "permissions": ["clipboardReadWrite"]},
    )
    copy = card.find_element(By.CSS_SELECTOR, ".share-row button")
    copy.click()
    WebDriverWait(browsing.driver, WAIT).until(lambda _: copy.text == "Copied")
    copied = browsing.driver.execute_async_script(
        "navigator.clipboard.readText().then(arguments[0], (e) => arguments[0]('failed: ' + e))"
    )
    assert copied == link

    # The share page: the largest thumbnail, linking to the original, with OpenGraph tags.
    browsing.driver.get(link)
    meta = {
        str(tag.get_attribute("property") or tag.get_attribute("name")): str(
            tag.get_attribute("content")
        )
        for tag in browsing.driver.find_elements(By.CSS_SELECTOR, "meta[content]")
    }
    assert meta["og:url"] == link
    largest = THUMBNAIL_SIZES[0]
    assert meta["og:image"] == status["urls"][largest.name]
    assert meta["og:image"].startswith("http://127.0.0.1:")
    # 1600x1200 fits the largest box (600x600: 600x450) with its aspect kept.
    scale = min(largest.width / 1600, largest.height / 1200)
    assert (meta["og:image:width"], meta["og:image:height"]) == (
        str(round(1600 * scale)),
        str(round(1200 * scale)),
    )
    assert meta["twitter:card"] == "summary_large_image"
    image = browsing.driver.find_element(By.CSS_SELECTOR, "figure img")
    assert image.get_attribute("src") == status["urls"][largest.name]
    # Loaded (which size of its srcset the window shows is test_share_variants').
    assert browsing.driver.execute_script("return arguments[0].naturalWidth", image) > 0
    assert image.find_element(By.XPATH, "..").get_attribute("href") == status["urls"]["original"]
    caption_links = [
        (a.text, a.get_attribute("href"))
        for a in browsing.driver.find_elements(By.CSS_SELECTOR, "figcaption a")
    ]
    sizes_and_original = (*THUMBNAIL_NAMES, "original")
    assert caption_links == [(name, status["urls"][name]) for name in sizes_and_original]
    browsing.driver.save_screenshot(str(artifacts / "share-page.png"))


def test_a_file_over_the_limit_is_refused_before_any_byte_is_sent(
    browsing: Browsing, tmp_path: Path
) -> None:
    browsing.open("/upload")
    big = write(tmp_path, "huge.jpg", b"\xff\xd8" + bytes(1024 * 1024))
    pick(browsing, big)
    message = browsing.driver.find_element(By.CSS_SELECTOR, "#uploads .card .message")
    assert message.text == "Too large: 1 MiB; the limit is 1 MiB."
    assert message.get_attribute("role") == "alert"
    # Not a readable image, so no fit is offered either.
    note = browsing.driver.find_element(By.CSS_SELECTOR, "#uploads .card .note")
    WebDriverWait(browsing.driver, WAIT).until(lambda _: "cannot read" in note.text)
    assert browsing.driver.find_elements(By.CSS_SELECTOR, "#uploads .card button.secondary") == []
    posts = [url for method, url in browsing.network.requests() if method == "POST"]
    assert posts == []


def test_a_refused_file_shows_the_servers_words(browsing: Browsing, tmp_path: Path) -> None:
    browsing.expected_errors.append("status of 400")
    browsing.open("/upload")
    choose(browsing, write(tmp_path, "notes.jpg", b"these are not the pixels you are after"))
    message = WebDriverWait(browsing.driver, WAIT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#uploads .card .message.error") or False
    )[0]
    assert message.text == f"Refused: {unsupported_message(ACCEPTED.values())}"


# Builds a File from base64 and hands it to the page in a synthesized event, as the
# browser does for a real paste or drop (DataTransfer is what both carry).
_DISPATCH = """
const [kind, name, type, data] = arguments;
const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
const transfer = new DataTransfer();
transfer.items.add(new File([bytes], name, { type }));
if (kind === "paste") {
  document.dispatchEvent(new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true }));
} else {
  const zone = document.getElementById("drop-zone");
  for (const step of ["dragenter", "dragover", "drop"]) {
    const init = { dataTransfer: transfer, bubbles: true, cancelable: true };
    zone.dispatchEvent(new DragEvent(step, init));
  }
}
"""


def test_paste_and_drop_upload_and_your_uploads_survive_a_reload(
    browsing: Browsing, artifacts: Path
) -> None:
    browsing.open("/upload")
    pasted = base64.b64encode(png((120, 80), seed=3)).decode()
    dropped = base64.b64encode(jpeg((300, 200), seed=4)).decode()
    browsing.driver.execute_script(_DISPATCH, "paste", "screenshot.png", "image/png", pasted)
    browsing.driver.execute_script(_DISPATCH, "drop", "dropped.jpg", "image/jpeg", dropped)
    upload_all(browsing)
    cards = ready_cards(browsing, 2)
    names = {card.find_element(By.CSS_SELECTOR, ".name").text for card in cards}
    assert names == {"screenshot.png", "dropped.jpg"}
    links = {card.find_element(By.CSS_SELECTOR, ".name").text: share_link(card) for card in cards}

    browsing.driver.refresh()
    history = WebDriverWait(browsing.driver, WAIT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#history .card") or False
    )
    # Newest first: the drop came after the paste (each is remembered once accepted, and
    # the paste was sent first; both are small, so they are accepted in that order).
    remembered = [
        (card.find_element(By.CSS_SELECTOR, ".name").text, share_link(card)) for card in history
    ]
    assert sorted(remembered) == sorted(links.items())
    thumbs = [card.find_element(By.CSS_SELECTOR, ".thumb img") for card in history]
    WebDriverWait(browsing.driver, WAIT).until(lambda d: all(shown(d, t) for t in thumbs))
    assert browsing.driver.find_element(By.ID, "history-empty").is_displayed() is False
    browsing.driver.save_screenshot(str(artifacts / "your-uploads.png"))


def test_the_page_works_from_the_keyboard_and_fits_a_phone(
    browsing: Browsing, tmp_path: Path, artifacts: Path
) -> None:
    browsing.driver.set_window_size(390, 844)
    browsing.open("/upload")
    ActionChains(browsing.driver).send_keys(Keys.TAB).perform()  # the skip link first
    assert browsing.driver.switch_to.active_element.text == "Skip to content"
    focused = []
    for _ in range(3):
        ActionChains(browsing.driver).send_keys(Keys.TAB).perform()
        focused.append(browsing.driver.switch_to.active_element.get_attribute("id"))
    assert "file-input" in focused
    label = browsing.driver.find_element(By.CSS_SELECTOR, "label[for='file-input']")
    assert label.text == "Choose images"
    assert browsing.driver.find_element(By.ID, "uploads").get_attribute("aria-live") == "polite"
    choose(browsing, write(tmp_path, "phone.jpg", jpeg((640, 480), seed=9)))
    ready_cards(browsing, 1)
    overflow = browsing.driver.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth"
    )
    assert overflow <= 0, "the page scrolls sideways on a phone"
    browsing.driver.save_screenshot(str(artifacts / "upload-phone.png"))


def test_delete_from_your_uploads_removes_the_image_everywhere(
    browsing: Browsing, tmp_path: Path, artifacts: Path
) -> None:
    browsing.open("/upload")
    choose(browsing, write(tmp_path, "regret.jpg", jpeg((400, 300), seed=31)))
    (card,) = ready_cards(browsing, 1)
    link = share_link(card)
    image_id = link.rsplit("/", 1)[1]
    history_card = browsing.driver.find_element(By.CSS_SELECTOR, "#history .card")
    small = str(history_card.find_element(By.CSS_SELECTOR, ".thumb img").get_attribute("src"))
    delete = history_card.find_element(By.CSS_SELECTOR, "button.danger")
    assert delete.get_attribute("aria-label") == "Delete regret.jpg from the service"

    delete.click()
    browsing.driver.switch_to.alert.dismiss()  # "Cancel" keeps it
    assert requests.get(f"{browsing.base_url}/images/{image_id}", timeout=10).status_code == 200
    delete.click()
    browsing.driver.switch_to.alert.accept()
    WebDriverWait(browsing.driver, WAIT).until(
        lambda d: not d.find_elements(By.CSS_SELECTOR, "#history .card")
    )
    assert browsing.driver.find_element(By.ID, "announcer").text == "regret.jpg was deleted."
    assert requests.get(f"{browsing.base_url}/images/{image_id}", timeout=10).status_code == 410
    assert requests.get(small, timeout=10).status_code == 404

    browsing.expected_errors.append("status of 410")
    browsing.driver.get(link)
    assert browsing.driver.find_element(By.TAG_NAME, "h1").text == "This image was deleted"
    browsing.driver.save_screenshot(str(artifacts / "share-deleted.png"))


@pytest.mark.parametrize(
    ("refusal", "explained"),
    [
        (service_busy(retry_after=5), "The service is busy: retry in 5 s."),
        (upload_in_progress(), "The server is still taking this upload: retry in 1 s."),
    ],
    ids=["busy", "in-progress"],
)
def test_a_retryable_refusal_is_explained_with_a_retry_that_sends_the_same_key(
    browsing: Browsing, service: Service, tmp_path: Path, refusal: Fault, explained: str
) -> None:
    keys: list[str] = []
    with FaultProxy(service.base_url) as proxy:
        # The page is loaded through the proxy, which answers every upload itself.
        proxy.inject(posts_recording_keys(keys), refusal)
        browsing.expected_errors.append(f"status of {refusal.status}")
        message = failed_upload_through(
            proxy, browsing, write(tmp_path, "later.jpg", jpeg((200, 150), seed=41))
        )
        assert message.text == explained
        retry = browsing.driver.find_element(By.CSS_SELECTOR, "#uploads .card button")
        assert retry.text == "Retry"
        assert proxy.hits == 1
        retry.click()
        WebDriverWait(browsing.driver, WAIT).until(lambda _: proxy.hits == 2)
    assert keys[1] == keys[0] != ""


def test_retry_after_a_lost_answer_sends_the_same_key_and_makes_one_image(
    browsing: Browsing, service: Service, tmp_path: Path
) -> None:
    storage = service_storage(service)
    images_before = len(storage.list_keys("status/", limit=100_000))
    keys: list[str] = []
    posts = posts_recording_keys(keys)

    with FaultProxy(service.base_url) as proxy:
        # The first upload reaches the server, which stores it; its answer never arrives.
        proxy.inject(lambda request: posts(request) and len(keys) == 1, answer_lost())
        browsing.expected_errors.append("ERR_EMPTY_RESPONSE")
        # Its thumbnails are on the server's origin, not the proxy's the page came from.
        browsing.expected_errors.append("violates the following Content Security Policy")
        message = failed_upload_through(
            proxy, browsing, write(tmp_path, "flaky.jpg", jpeg((200, 150), seed=43))
        )
        assert message.text == "Could not reach the server: check your connection and retry."
        assert len(storage.list_keys("status/", limit=100_000)) == images_before + 1
        browsing.driver.find_element(By.CSS_SELECTOR, "#uploads .card button").click()
        (card,) = WebDriverWait(browsing.driver, WAIT).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#uploads .card[data-image-id]") or False
        )
        image_id = card.get_attribute("data-image-id")
        browsing.driver.get("about:blank")  # stop its status polls before the proxy goes

    assert len(keys) == 2
    assert re.fullmatch(
        r'"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"', keys[0]
    )
    assert keys[1] == keys[0]
    # The retry was answered from the first upload's record: still one image.
    assert len(storage.list_keys("status/", limit=100_000)) == images_before + 1
    record = decode_record(storage.get(record_key(keys[0].strip('"'))).body)
    assert image_id == record.image_id
