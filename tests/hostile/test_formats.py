"""Formats outside the allow-list, damaged images and a JPEG/HTML polyglot, over HTTP.

Whether Pillow ever reached a plugin outside the allow-list is observed in the real
server processes: ``audit/sitecustomize.py`` records every Pillow module they load and
every program they try to start, and a fake ``gs`` on their PATH means an EPS reaching
Ghostscript would show up as a spawn.
"""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from PIL import Image

from hostile.auditing import Audited, audit_env, fake_ghostscript, read_audit
from hostile.stored import stored_in_s3
from support import hostile_images, images
from support.client import fetch_when_ready, upload
from support.memory import process_memory
from support.services import Service

ALLOWED_PLUGINS = {
    "PIL.AvifImagePlugin",
    "PIL.GifImagePlugin",
    "PIL.JpegImagePlugin",
    "PIL.PngImagePlugin",
    "PIL.WebPImagePlugin",
}
# Loaded by Pillow itself, never handed our bytes as a file: Image.open's preinit()
# imports the BMP and PPM plugins whatever ``formats=`` says (which then keeps them from
# looking at the data), and the JPEG, PNG and WebP plugins read embedded EXIF with the
# TIFF plugin's IFD parser.
INCIDENTAL_PLUGINS = {"PIL.BmpImagePlugin", "PIL.PpmImagePlugin", "PIL.TiffImagePlugin"}
NOT_ALLOWED = hostile_images.not_allowed()


def _plugins(events: list[dict[str, object]], pids: set[int] | None = None) -> set[str]:
    return {
        str(e["what"])
        for e in events
        if e["kind"] == "import"
        and str(e["what"]).endswith("ImagePlugin")
        and (pids is None or e["pid"] in pids)
    }


@pytest.mark.parametrize("name", sorted(NOT_ALLOWED))
def test_a_format_outside_the_allow_list_is_refused(local: Service, name: str) -> None:
    response = upload(local.base_url, NOT_ALLOWED[name], filename=f"picture.{name}")
    assert response.status_code == 400
    assert response.json()["error"] == "This is not a JPEG, PNG, GIF, WebP, HEIF or AVIF image."


def test_no_plugin_outside_the_allow_list_runs_in_the_server(audited: Audited) -> None:
    service = audited.service
    assert service.server is not None
    for name, data in NOT_ALLOWED.items():
        # Disguised as a JPEG: a .jpg name and an image/jpeg part type change nothing.
        response = requests.post(
            f"{service.base_url}/",
            files={"image": ("photo.jpg", data, "image/jpeg")},
            timeout=30,
        )
        assert response.status_code == 400, name
    events = audited.events()
    server = {service.server.pid} | {m.pid for m in process_memory(service.server.pid)}
    loaded = _plugins(events, server)
    assert "PIL.JpegImagePlugin" in loaded  # the hook does see the server's imports
    assert loaded <= ALLOWED_PLUGINS | INCIDENTAL_PLUGINS
    # No Ghostscript, and no program of any kind, in the server or the worker: but for
    # the two that sharer-server itself starts, once, before any request (gunicorn, nginx).
    spawns = [e for e in events if e["kind"] == "spawn"]
    launched = [e for e in spawns if e["pid"] == service.server.pid]
    assert len(launched) == 2, launched
    assert "server.transport.gunicorn_app" in str(launched[0]["what"])
    assert "nginx" in str(launched[1]["what"])
    assert [e for e in spawns if e["pid"] != service.server.pid] == []


def test_the_audit_would_catch_an_eps_reaching_ghostscript(tmp_path: Path) -> None:
    # The same hook around what ``formats=`` prevents: Pillow's default open and load.
    log = tmp_path / "audit.jsonl"
    eps = tmp_path / "picture.eps"
    eps.write_bytes(NOT_ALLOWED["eps"])
    code = (  # the fake gs fails, and Pillow raises: only the attempt matters here
        "import sys\nfrom PIL import Image\n"
        "try:\n    Image.open(sys.argv[1]).load()\nexcept Exception:\n    pass\n"
    )
    env = os.environ | audit_env(log, path_first=fake_ghostscript(tmp_path))
    subprocess.run([sys.executable, "-c", code, str(eps)], env=env, check=True, timeout=60)
    events = read_audit(log)
    assert "PIL.EpsImagePlugin" in _plugins(events)
    assert any(e["kind"] == "spawn" and "gs" in str(e["what"]) for e in events)


DAMAGEABLE = ["jpeg", "jpeg_progressive", "png_rgba", "png_palette_transparent", "gif", "webp"]
DAMAGEABLE += ["webp_lossless", "heif", "heif_alpha", "avif", "avif_alpha"]


@pytest.mark.parametrize("name", DAMAGEABLE)
@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_a_damaged_image_is_refused(local: Service, name: str, damage: str) -> None:
    intact = images.BUILDERS[name]()
    data = (
        hostile_images.truncated(intact)
        if damage == "truncated"
        else hostile_images.corrupt(intact)
    )
    response = upload(local.base_url, data)
    assert response.status_code == 400
    assert "damaged" in response.json()["error"]


def test_a_jpeg_html_polyglot_is_only_ever_served_as_a_jpeg(local: Service) -> None:
    data = hostile_images.jpeg_html_polyglot()
    response = upload(local.base_url, data, filename="page.html")
    assert response.status_code == 202
    urls = response.json()
    # Even to a client that asks for HTML: the stored type, and no sniffing allowed.
    original = requests.get(urls["original"], headers={"Accept": "text/html"}, timeout=10)
    # Stored stripped by default: the comment and the trailer holding the HTML are gone.
    assert hostile_images.POLYGLOT_HTML in data
    assert hostile_images.POLYGLOT_HTML not in original.content
    assert original.headers["Content-Type"] == "image/jpeg"
    assert original.headers["X-Content-Type-Options"] == "nosniff"
    small = fetch_when_ready(urls["small"])
    assert small.headers["Content-Type"] == "image/jpeg"
    assert small.headers["X-Content-Type-Options"] == "nosniff"
    assert b"<script>" not in small.content  # a re-encoded thumbnail carries no payload


def test_a_polyglot_is_stored_in_s3_as_a_jpeg(aws_stripping: Service) -> None:
    response = upload(
        aws_stripping.base_url, hostile_images.jpeg_html_polyglot(), filename="x.html"
    )
    assert response.status_code == 202
    content_type, body = stored_in_s3(aws_stripping, response.json()["original"])
    assert content_type == "image/jpeg"
    # Stripping removed the comment and the trailer: no HTML is left in the object.
    assert hostile_images.POLYGLOT_HTML not in body
    with Image.open(io.BytesIO(body)) as image:
        assert image.format == "JPEG"
