"""``sharer delete URL --token T`` against the real server (issue 12's delete route)."""

from pathlib import Path

import requests

from sharer_cli.conftest import sharer
from support.images import jpeg
from support.services import Service


def test_delete_with_the_uploads_token_and_only_with_it(service: Service, tmp_path: Path) -> None:
    photo = tmp_path / "gone-soon.jpg"
    photo.write_bytes(jpeg((160, 120), seed=77))
    (line,) = sharer("upload", "--server", service.base_url, "--json", photo).json_lines()
    share, token = str(line["share"]), str(line["delete_token"])
    assert len(token) >= 22  # >= 128 random bits, URL-safe

    on_service = ("--server", service.base_url)
    wrong = sharer("delete", share, "--token", token[::-1], *on_service)
    assert wrong.code == 1
    assert "token" in wrong.err
    assert requests.get(str(line["original"]), timeout=10).status_code == 200

    done = sharer("delete", share, "--token", token, *on_service)
    assert done.code == 0, done.err
    assert done.out == f"{share}: deleted\n"
    assert requests.get(str(line["original"]), timeout=10).status_code == 404
    assert requests.get(share.replace("/i/", "/images/"), timeout=10).status_code == 410

    again = sharer("delete", share, "--token", token, *on_service)
    assert again.code == 1
    assert "deleted" in again.err


def test_delete_takes_an_id_with_the_server_and_refuses_other_text(service: Service) -> None:
    unknown = "A" * 22
    run = sharer("delete", unknown, "--token", "x" * 22, "--server", service.base_url)
    assert run.code == 1
    assert run.err == f"{unknown}: no image with that id\n"
    assert sharer("delete", "not a url", "--token", "t").code == 2
    assert sharer("delete", f"{service.base_url}/i/{unknown}").code == 2  # no --token
