"""The upload page on a server that requires an API key (``SHARER_API_KEYS=required``),
in a real browser: it asks for the key, explains a refused one, and sends it."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from pages.conftest import Browsing
from pages.test_upload_page import WAIT, choose, ready_cards, write
from sharer.api_keys import created_key
from sharer.backends import open_api_keys
from sharer.settings import CommonSettings
from support.images import jpeg
from support.services import Service, local_service


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A server requiring keys, and one worker, on files and SQLite."""
    yield from local_service(
        tmp_path_factory.mktemp("keyed-pages"), workers=1, env={"SHARER_API_KEYS": "required"}
    )


def error_text(browsing: Browsing) -> str:
    messages = WebDriverWait(browsing.driver, WAIT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#uploads .card .message.error") or False
    )
    return str(messages[0].text)


def test_the_page_asks_for_the_key_and_sends_it(
    browsing: Browsing, service: Service, tmp_path: Path
) -> None:
    key = created_key(
        open_api_keys(CommonSettings.from_env(service.env)),
        "page",
        uploads_per_minute=10,
        bytes_per_day=10**7,
    )
    browsing.expected_errors.append("status of 401")
    browsing.open("/upload")
    field = browsing.driver.find_element(By.ID, "api-key")
    photo = write(tmp_path, "keyed.jpg", jpeg((400, 300)))

    choose(browsing, photo)
    assert error_text(browsing) == "This server needs an API key: enter it above, then retry."
    assert [url for method, url in browsing.network.requests() if method == "POST"] == []

    field.send_keys(key + "-wrong")
    browsing.driver.find_element(By.CSS_SELECTOR, "#uploads .card button").click()
    assert error_text(browsing) == "The API key was refused: check it above, then retry."

    field.clear()
    field.send_keys(key)
    browsing.driver.find_element(By.CSS_SELECTOR, "#uploads .card button").click()
    (card,) = ready_cards(browsing, 1)
    assert card.find_element(By.CSS_SELECTOR, ".message").text == "Ready to share"
