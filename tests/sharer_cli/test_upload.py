"""``sharer upload`` against the real service: batches, refusals, --wait, --json,
files that cannot be read, usage errors, and retries on a real 503 with Retry-After."""

import os
import time
from pathlib import Path

import requests

from server.inspection import unsupported_message
from sharer.formats import ACCEPTED
from sharer_cli.conftest import Run, sharer
from support.faults import FaultProxy, ProxiedRequest, loop_symlink, service_busy
from support.images import jpeg, png
from support.services import Service

URL_FIELDS = ("original", "small", "medium", "large")


def files(directory: Path, count: int) -> list[Path]:
    """``count`` small, distinct valid images."""
    paths = []
    for number in range(count):
        path = directory / f"photo-{number:02}.jpg"
        path.write_bytes(jpeg((160, 120), seed=number))
        paths.append(path)
    return paths


def by_file(run: Run) -> dict[str, dict[str, object]]:
    """The --json lines by their file."""
    return {str(line["file"]): line for line in run.json_lines()}


def test_a_batch_of_twenty_with_two_invalid_files(service: Service, tmp_path: Path) -> None:
    valid = files(tmp_path, 18)
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("a shopping list, not a picture")
    cut_short = tmp_path / "cut.png"
    cut_short.write_bytes(png((200, 150))[:60])
    batch = [*valid[:9], not_an_image, *valid[9:], cut_short]

    run = sharer("upload", "--server", service.base_url, "--json", "--concurrency", "4", *batch)

    assert run.code == 1
    lines = by_file(run)
    assert len(run.out.splitlines()) == 20
    for path in valid:
        line = lines[str(path)]
        assert line["status"] == 202
        assert "error" not in line
        image_id = str(line["share"]).rsplit("/", 1)[1]
        assert line["share"] == f"{service.base_url}/i/{image_id}"
        for name in URL_FIELDS:
            assert f"/images/{image_id}/{name}." in str(line[name])
    assert lines[str(not_an_image)] == {
        "file": str(not_an_image),
        "status": 400,
        "error": unsupported_message(ACCEPTED.values()),
    }
    assert lines[str(cut_short)]["status"] == 400
    assert "share" not in lines[str(cut_short)]


def test_wait_returns_once_every_image_is_ready(service: Service, tmp_path: Path) -> None:
    batch = files(tmp_path, 3)
    env = os.environ | {"SHARER_SERVER": service.base_url}  # the server from the environment
    run = sharer("upload", "--wait", "--timeout", "60", "--json", *batch, env=env)
    assert run.code == 0, run.err
    lines = run.json_lines()
    assert len(lines) == len(batch)  # one line a file, so the loop below checks each
    for line in lines:
        assert line["state"] == "ready"
        status_url = str(line["share"]).replace("/i/", "/images/")
        assert requests.get(status_url, timeout=10).json()["status"] == "ready"
        assert requests.get(str(line["small"]), timeout=10).status_code == 200


def test_plain_output_is_one_line_per_file(service: Service, tmp_path: Path) -> None:
    (photo,) = files(tmp_path, 1)
    run = sharer("upload", "--server", service.base_url, photo)
    assert run.code == 0
    (line,) = run.out.splitlines()
    file, share = line.split(": ", 1)
    assert file == str(photo)
    assert share.split()[0].startswith(f"{service.base_url}/i/")


def test_missing_directory_and_unreadable_files_are_reported_and_the_rest_go(
    service: Service, tmp_path: Path
) -> None:
    (photo,) = files(tmp_path, 1)
    missing = tmp_path / "gone.jpg"
    directory = tmp_path / "album"
    directory.mkdir()
    unreadable = loop_symlink(tmp_path / "loop.jpg")  # ELOOP: neither missing nor denied
    run = sharer(
        "upload", "--server", service.base_url, "--json", missing, directory, unreadable, photo
    )
    assert run.code == 1
    lines = by_file(run)
    assert lines[str(missing)] == {"file": str(missing), "status": None, "error": "no such file"}
    assert lines[str(directory)]["error"] == "is a directory"
    assert str(lines[str(unreadable)]["error"]).startswith("cannot be read")
    assert lines[str(photo)]["status"] == 202


def test_usage_errors_exit_2(service: Service, tmp_path: Path) -> None:
    (photo,) = files(tmp_path, 1)
    assert sharer("upload").code == 2
    assert sharer("upload", "--concurrency", "0", photo).code == 2
    assert sharer("upload", "--server", "ftp://example.test", photo).code == 2
    assert sharer("frobnicate").code == 2


def test_a_503_with_retry_after_is_retried_after_it_and_a_400_never(
    service: Service, tmp_path: Path
) -> None:
    (photo,) = files(tmp_path, 1)
    posts: list[float] = []

    def first_two_posts(request: ProxiedRequest) -> bool:
        if request.method != "POST":
            return False
        posts.append(time.monotonic())
        return len(posts) <= 2

    busy = service_busy(retry_after=1)
    with FaultProxy(service.base_url) as proxy:
        proxy.inject(first_two_posts, busy)
        run = sharer("upload", "--server", proxy.url, "--json", photo)
        assert run.code == 0, run.err
        (line,) = run.json_lines()
        assert line["status"] == 202
        assert len(posts) == 3
        # Retry-After: 1 was honoured both times (plus jitter, never less).
        assert posts[1] - posts[0] >= 1.0
        assert posts[2] - posts[1] >= 1.0

        posts.clear()

        def count_posts(request: ProxiedRequest) -> bool:
            posts.append(time.monotonic())
            return False  # forward every request untouched

        proxy.inject(count_posts, busy)
        refused = tmp_path / "refused.jpg"
        refused.write_text("not an image")
        run = sharer("upload", "--server", proxy.url, "--json", refused)
        assert run.code == 1
        assert run.json_lines()[0]["status"] == 400
        assert len(posts) == 1  # a 4xx is final


def test_a_server_that_stays_busy_is_given_up_on_after_bounded_attempts(
    service: Service, tmp_path: Path
) -> None:
    (photo,) = files(tmp_path, 1)
    posts: list[float] = []

    def every_post(request: ProxiedRequest) -> bool:
        posts.append(time.monotonic())
        return request.method == "POST"

    busy = service_busy(retry_after=0, message="busy")
    with FaultProxy(service.base_url) as proxy:
        proxy.inject(every_post, busy)
        run = sharer("upload", "--server", proxy.url, "--json", "--attempts", "3", photo)
    assert run.code == 1
    assert run.json_lines()[0] == {"file": str(photo), "status": 503, "error": "busy"}
    assert len(posts) == 3
