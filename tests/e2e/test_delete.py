"""Delete with the upload's token, over real HTTP, on both backend pairs; on AWS the CDN
(CloudFront on moto's server) is told to forget the image."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from support import images
from support.cdn import create_distribution, invalidated_paths
from support.client import fetch_when_ready, upload, wait_for_status
from support.services import Service, aws_env, moto_server


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
    assert status["thumbnails"] == {
        "large": {"width": 450, "height": 600},
        "medium": {"width": 225, "height": 300},
        "small": {"width": 75, "height": 100},
    }
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


@pytest.fixture(scope="module")
def cdn_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, str, str]]:
    """A server on S3 and SQS with a CloudFront distribution, all on moto's server."""
    workdir: Path = tmp_path_factory.mktemp("cdn")
    with moto_server(workdir) as endpoint:
        env = aws_env(endpoint, bucket="cdn-images")
        distribution_id = create_distribution(endpoint, "cdn-images")
        env["SHARER_CDN_DISTRIBUTION_ID"] = distribution_id
        with Service(env, workdir).running(workers=1) as running:
            yield running, endpoint, distribution_id


def test_on_aws_a_delete_invalidates_the_image_prefix_on_the_cdn(
    cdn_service: tuple[Service, str, str],
) -> None:
    service, endpoint, distribution_id = cdn_service
    response, _ = _ready_upload(service)
    image_id = response.headers["Location"].rsplit("/", 1)[1]
    assert invalidated_paths(endpoint, distribution_id) == []
    deleted = _delete(
        service.base_url, response.headers["Location"], response.headers["Delete-Token"]
    )
    assert deleted.status_code == 204
    # The public base URL is <moto>/<bucket>, so the CDN path of an image carries it.
    assert invalidated_paths(endpoint, distribution_id) == [f"/cdn-images/images/{image_id}/*"]
