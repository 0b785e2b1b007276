"""Delete with the upload's token, over real HTTP, on both backend pairs; on AWS the CDN
(CloudFront on moto's server) is told to forget the image's prefix."""

import requests

from sharer.thumbnail_sizes import THUMBNAIL_NAMES
from support import images
from support.cdn import invalidated_paths
from support.client import fetch_when_ready, upload, wait_for_status
from support.services import Service


def _delete(base_url: str, location: str, token: str | None) -> requests.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return requests.delete(f"{base_url}{location}", headers=headers, timeout=30)


def _ready_upload(service: Service) -> tuple[requests.Response, dict[str, str]]:
    response = upload(service.base_url, images.oriented_jpeg(6, (480, 640)))
    assert response.status_code == 202
    urls: dict[str, str] = response.json()
    assert wait_for_status(service.base_url, response.headers["Location"])["status"] == "ready"
    return response, urls


def test_ready_status_has_upright_size_thumbnail_sizes_and_a_thumbhash(
    service: Service,
) -> None:
    response, _ = _ready_upload(service)
    status = requests.get(f"{service.base_url}{response.headers['Location']}", timeout=10).json()
    # Stored 640x480 with orientation 6: shown (and reported) 480x640.
    assert (status["width"], status["height"]) == (480, 640)
    assert set(status["thumbnails"]) == set(THUMBNAIL_NAMES)
    # Today's sizes, whatever others a fork adds: upright, aspect kept.
    assert (
        status["thumbnails"].items()
        >= {
            "large": {"width": 450, "height": 600},
            "medium": {"width": 225, "height": 300},
            "small": {"width": 75, "height": 100},
        }.items()
    )
    assert isinstance(status["thumbhash"], str)
    assert 20 <= len(status["thumbhash"]) <= 40
    assert "delete_token_sha256" not in str(status)


def test_the_token_deletes_every_url_and_the_status(service: Service) -> None:
    response, urls = _ready_upload(service)
    assert response.headers["Content-Type"] == "application/json"
    token = response.headers["Delete-Token"]
    location = response.headers["Location"]
    deleted = _delete(service.base_url, location, token)
    assert deleted.status_code == 204
    assert deleted.headers["Content-Type"] == "application/json"
    assert deleted.headers["X-Request-Id"]
    for name, url in urls.items():
        assert requests.get(url, timeout=10).status_code in (403, 404), name
    gone = requests.get(f"{service.base_url}{location}", timeout=10)
    assert gone.status_code == 410
    assert gone.headers["Content-Type"] == "application/json"
    assert _delete(service.base_url, location, token).status_code == 410
    if "SHARER_CDN_DISTRIBUTION_ID" in service.env:
        # The public base URL is <moto>/<bucket>, so the CDN path of an image carries it.
        image_id = location.rsplit("/", 1)[1]
        paths = invalidated_paths(
            service.env["SHARER_AWS_ENDPOINT_URL"], service.env["SHARER_CDN_DISTRIBUTION_ID"]
        )
        assert paths.count(f"/e2e-images/images/{image_id}/*") == 1
        assert paths.count(f"/i/{image_id}") == 1  # the share page, served at the site


def test_without_the_token_nothing_is_removed(service: Service) -> None:
    response, urls = _ready_upload(service)
    location = response.headers["Location"]
    missing = _delete(service.base_url, location, None)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert missing.headers["Content-Type"] == "application/json"
    wrong = _delete(service.base_url, location, "A" * 43)
    assert wrong.status_code == 403
    assert wrong.headers["Content-Type"] == "application/json"
    for url in urls.values():
        assert fetch_when_ready(url).status_code == 200
    assert requests.get(f"{service.base_url}{location}", timeout=10).status_code == 200


def test_an_unknown_id_is_404(service: Service) -> None:
    response = _delete(service.base_url, f"/images/{'A' * 22}", "whatever")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
