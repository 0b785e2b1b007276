"""nginx's configuration, rendered from settings, is one nginx accepts (``nginx -t``)."""

import subprocess
from pathlib import Path

import pytest
import requests

from server.app import max_request_bytes
from server.transport.nginx_config import render_nginx_config, write_nginx_config
from server.transport.processes import find_nginx
from server.transport.runtime_paths import RuntimePaths
from sharer.settings import ServerSettings
from support.services import START_TIMEOUT, free_port, stop_processes, wait_until_listening

VARIANTS = {
    "make run": {},
    "on AWS": {
        "SHARER_BIND": "0.0.0.0:8080",
        "SHARER_FORWARDED_HOPS": "2",
        "SHARER_MAX_CONNECTIONS_PER_CLIENT": "0",
    },
    "IPv6, one hop, quiet": {
        "SHARER_BIND": "::1:8081",
        "SHARER_FORWARDED_HOPS": "1",
        "SHARER_LOG_LEVEL": "ERROR",
    },
    "metrics on their own address": {"SHARER_METRICS_BIND": "127.0.0.1:9100"},
    "API keys and quotas": {"SHARER_API_KEYS": "optional", "SHARER_ADDRESS_BYTES_PER_DAY": "9"},
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_nginx_accepts_the_rendered_config(tmp_path: Path, name: str) -> None:
    settings = ServerSettings.from_env({"SHARER_DATA_DIR": str(tmp_path)} | VARIANTS[name])
    paths = RuntimePaths(Path(settings.runtime_dir))
    paths.runtime_dir.mkdir(parents=True)
    config = write_nginx_config(settings, paths)
    checked = subprocess.run(
        [find_nginx(), "-t", "-e", "stderr", "-p", str(paths.runtime_dir), "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


def test_the_settings_reach_the_config(tmp_path: Path) -> None:
    settings = ServerSettings.from_env(
        {
            "SHARER_DATA_DIR": str(tmp_path),
            "SHARER_BIND": "0.0.0.0:9000",
            "SHARER_MAX_UPLOAD_BYTES": "2000000",
            "SHARER_REQUEST_TIMEOUT": "17",
            "SHARER_MAX_CONNECTIONS_PER_CLIENT": "9",
        }
    )
    text = render_nginx_config(settings, RuntimePaths(tmp_path / "run"))
    assert "listen 9000 default_server;" in text
    assert "client_header_timeout 17s;" in text
    assert "limit_conn sharer_per_client 9;" in text
    assert f"proxy_pass http://unix:{tmp_path}/run/gunicorn.sock:;" in text
    assert f"client_max_body_size {max_request_bytes(settings)};" in text


@pytest.mark.parametrize(
    ("env", "asks"),
    [
        ({}, False),
        ({"SHARER_API_KEYS": "optional"}, True),
        ({"SHARER_API_KEYS": "required"}, True),
        ({"SHARER_ADDRESS_UPLOADS_PER_MINUTE": "5"}, True),
        ({"SHARER_ADDRESS_BYTES_PER_DAY": "1000000"}, True),
    ],
)
def test_uploads_ask_the_admission_route_only_with_keys_or_quotas(
    tmp_path: Path, env: dict[str, str], asks: bool
) -> None:
    settings = ServerSettings.from_env({"SHARER_DATA_DIR": str(tmp_path)} | env)
    text = render_nginx_config(settings, RuntimePaths(tmp_path / "run"))

    assert ("auth_request /_sharer_admission;" in text) is asks
    assert ("location = /_sharer_admission {\n            internal;" in text) is asks


def test_an_admission_that_cannot_reach_the_app_lets_the_upload_meet_the_outage(
    tmp_path: Path,
) -> None:
    # nginx alone, gunicorn never started: the upload gets the outage's 503 (as without
    # admission), not auth_request's bare 500.
    port = free_port()
    settings = ServerSettings.from_env(
        {
            "SHARER_DATA_DIR": str(tmp_path),
            "SHARER_API_KEYS": "required",
            "SHARER_BIND": f"127.0.0.1:{port}",
            "SHARER_SERVER_PROCESSES": "1",
        }
    )
    paths = RuntimePaths(Path(settings.runtime_dir))
    paths.runtime_dir.mkdir(parents=True)
    config = write_nginx_config(settings, paths)
    # Admission is on: without it the answer below would be the same outage's 503.
    assert "auth_request /_sharer_admission;" in config.read_text()
    nginx = subprocess.Popen(
        [find_nginx(), "-e", "stderr", "-p", str(paths.runtime_dir), "-c", str(config)],
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_listening(port, nginx, START_TIMEOUT)
        answer = requests.post(
            f"http://127.0.0.1:{port}/",
            data=b"--b--\r\n",
            headers={"Content-Type": "multipart/form-data; boundary=b"},
            timeout=30,
        )
    finally:
        stop_processes([nginx])

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert "starting or restarting" in answer.json()["error"]
