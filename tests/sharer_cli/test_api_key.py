"""``sharer upload`` on a server that requires API keys: the key comes from
``SHARER_API_KEY`` and goes with uploads only (a delete needs its token alone)."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sharer.api_keys import created_key
from sharer.backends import open_api_keys
from sharer.settings import CommonSettings
from sharer_cli.conftest import sharer
from support.images import jpeg
from support.services import Service, local_service


@pytest.fixture(scope="module")
def keyed_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A server taking uploads with a key only, and one worker."""
    yield from local_service(
        tmp_path_factory.mktemp("cli-keys"), workers=1, env={"SHARER_API_KEYS": "required"}
    )


def test_an_upload_carries_the_key_from_the_environment_and_a_delete_needs_none(
    keyed_service: Service, tmp_path: Path
) -> None:
    key = created_key(
        open_api_keys(CommonSettings.from_env(keyed_service.env)),
        "cli",
        uploads_per_minute=10,
        bytes_per_day=10_000_000,
    )
    photo = tmp_path / "keyed.jpg"
    photo.write_bytes(jpeg((160, 120), seed=5))
    on_service = ("--server", keyed_service.base_url)
    without = {k: v for k, v in os.environ.items() if k != "SHARER_API_KEY"}

    refused = sharer("upload", *on_service, "--json", photo, env=without)
    assert refused.code == 1
    (line,) = refused.json_lines()
    assert line["status"] == 401

    (line,) = sharer(
        "upload", *on_service, "--json", photo, env=without | {"SHARER_API_KEY": key}
    ).json_lines()
    assert line["status"] == 202
    share, token = str(line["share"]), str(line["delete_token"])

    done = sharer("delete", share, "--token", token, *on_service, env=without)
    assert done.code == 0, done.err
    assert requests.get(str(line["original"]), timeout=10).status_code == 404
