"""What the pages and client files take from configuration: the site URL (never the
request's Host) and the image origin the CSP lets pictures come from."""

import io
import re

import pytest
from flask.testing import FlaskClient

from server.app import create_app
from sharer.settings import ServerSettings
from sharer.thumbnail_sizes import THUMBNAIL_NAMES
from support.client import BODY_KEYS
from support.fakes import FakeEdgeCache, FakeQueue, FakeStorage
from support.images import jpeg

SITE = "https://img.example.com"
CDN = "https://d123.cloudfront.net"


@pytest.fixture
def client() -> FlaskClient:
    settings = ServerSettings.from_env(
        {
            "SHARER_DATA_DIR": "/nonexistent/unused",
            "SHARER_SITE_URL": SITE,
            "SHARER_PUBLIC_BASE_URL": f"{CDN}/media-prefix",
        }
    )
    app = create_app(settings, storage=FakeStorage(), queue=FakeQueue(), edge_cache=FakeEdgeCache())
    return app.test_client()


FORGED = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}


def test_share_urls_come_from_the_site_url_never_the_host(client: FlaskClient) -> None:
    accepted = client.post("/", data={"image": (io.BytesIO(jpeg()), "a.jpg")})
    image_id = str(accepted.headers["Location"]).rsplit("/", 1)[1]
    page = client.get(f"/i/{image_id}", headers=FORGED).get_data(as_text=True)
    assert f'<meta property="og:url" content="{SITE}/i/{image_id}">' in page
    assert "evil.example" not in page
    sxcu = client.get("/sharex.sxcu", headers=FORGED).get_json()
    assert sxcu["RequestURL"] == f"{SITE}/"
    assert sxcu["URL"].startswith(f"{SITE}/i/")
    # ShareX's history shows the smallest thumbnail, a key of the 202 body.
    assert sxcu["ThumbnailURL"] == f"{{json:{THUMBNAIL_NAMES[0]}}}"
    assert THUMBNAIL_NAMES[0] in BODY_KEYS
    assert client.get("/openapi.json", headers=FORGED).get_json()["servers"] == [{"url": SITE}]


def test_the_csp_admits_images_from_the_public_image_origin_only(client: FlaskClient) -> None:
    policy = client.get("/upload").headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["img-src"] == f"'self' {CDN}"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"


def test_the_upload_page_states_the_configured_limit() -> None:
    settings = ServerSettings.from_env(
        {"SHARER_DATA_DIR": "/nonexistent/unused", "SHARER_MAX_UPLOAD_BYTES": "300000"}
    )
    app = create_app(settings, storage=FakeStorage(), queue=FakeQueue(), edge_cache=FakeEdgeCache())
    page = app.test_client().get("/upload").get_data(as_text=True)
    assert 'data-max-bytes="300000"' in page
    # The page's script names the sizes the server makes, smallest first.
    assert f'data-thumbnail-names="{" ".join(THUMBNAIL_NAMES)}"' in page
    assert re.search(r"at most 293 KiB each", page)
