"""Debian's headless Chromium driven by Selenium, for the pages' tests.

Chromium runs with everything that would reach the internet on its own turned off
(component updates, sync, background networking), so every request it logs was made by
the page under test.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service as DriverService

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


@contextmanager
def chromium(
    profile_dir: Path, *, width: int = 1100, height: int = 900, scale: float = 1
) -> Iterator[webdriver.Chrome]:
    """A headless Chromium with a fresh profile in ``profile_dir``, logging its network
    requests and console messages, with ``scale`` device pixels per CSS pixel; quit on
    the way out."""
    options = Options()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--force-device-scale-factor={scale}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=DriverService(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def requested_urls(driver: webdriver.Chrome) -> list[tuple[str, str]]:
    """(method, URL) of every request the browser sent since the last call."""
    sent = []
    # selenium leaves get_log unannotated: a list of {"level", "message", ...} dicts.
    entries: list[dict[str, str]] = driver.get_log("performance")  # type: ignore[no-untyped-call]
    for entry in entries:
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            request = message["params"]["request"]
            sent.append((request["method"], request["url"]))
    return sent


def console_errors(driver: webdriver.Chrome) -> list[str]:
    """Console messages of level SEVERE since the last call (CSP violations among them)."""
    entries: list[dict[str, str]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return [entry["message"] for entry in entries if entry["level"] == "SEVERE"]


class NetworkLog:
    """Every request a browser sent, accumulated across calls (the driver hands each log
    entry out once)."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self._driver = driver
        self._sent: list[tuple[str, str]] = []

    def requests(self) -> list[tuple[str, str]]:
        """(method, URL) of every request so far."""
        self._sent.extend(requested_urls(self._driver))
        return list(self._sent)
