"""The pages in headless Chromium against the real server and worker (embedded backends).

Screenshots of the key states land in ``test-artifacts/pages/`` at the repository root.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium import webdriver

from support.browser import NetworkLog, chromium, console_errors
from support.services import Service, local_service

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "pages"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A server and one worker on files and SQLite."""
    yield from local_service(tmp_path_factory.mktemp("pages"), workers=1)


@dataclass
class Browsing:
    """A browser on the service, and the log of the requests it sent."""

    driver: webdriver.Chrome
    network: NetworkLog
    base_url: str
    # Console errors a test expects (e.g. the refused upload's 400), by substring.
    expected_errors: list[str] = field(default_factory=list)
    # Origins besides the server's that a test sends the browser to (a loopback proxy).
    other_origins: list[str] = field(default_factory=list)

    def open(self, path: str) -> None:
        """Load ``path`` of the service."""
        self.driver.get(self.base_url + path)


@pytest.fixture
def browsing(tmp_path: Path, service: Service) -> Iterator[Browsing]:
    """A fresh Chromium profile (so empty localStorage) for each test; afterwards, every
    request it made must have gone to the server's own origin (which serves the images
    too in this mode), and no console error (a CSP violation among them) was logged."""
    with chromium(tmp_path / "profile") as driver:
        session = Browsing(driver, NetworkLog(driver), service.base_url)
        yield session
        origins = {urlsplit(o)[:2] for o in [service.base_url, *session.other_origins]}
        elsewhere = [
            (method, url)
            for method, url in session.network.requests()
            # chrome:// pages (the new tab page at start) are the browser's own, not network
            if urlsplit(url).scheme in ("http", "https", "ws", "wss")
            and urlsplit(url)[:2] not in origins
        ]
        assert elsewhere == [], "requests left the server's origin"
        unexpected = [
            message
            for message in console_errors(driver)
            if not any(expected in message for expected in session.expected_errors)
        ]
        assert unexpected == []


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
