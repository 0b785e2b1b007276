"""``sharer upload --description`` and ``--fit`` against a real server whose limit is
smaller than the default (so the photos over it stay small and quick to make, and the
limit the CLI fits to is seen to come from the server, not from the CLI)."""

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import ExifTags, Image

from sharer_cli.conftest import sharer
from support import images
from support.services import Service, local_service

LIMIT = 150_000


@pytest.fixture(scope="module")
def small_limit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A server taking at most ``LIMIT`` bytes per image, and one worker; it stores
    originals as sent, so what the CLI removed is seen to be gone from what it sent."""
    yield from local_service(
        tmp_path_factory.mktemp("cli-fit"),
        env={"SHARER_MAX_UPLOAD_BYTES": str(LIMIT), "SHARER_STRIP_ORIGINAL_METADATA": "false"},
    )


def _write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


def _status(line: dict[str, object]) -> dict[str, object]:
    status_url = str(line["share"]).replace("/i/", "/images/")
    document: dict[str, object] = requests.get(status_url, timeout=10).json()
    return document


def test_description_goes_with_every_file(small_limit: Service, tmp_path: Path) -> None:
    photos = [_write(tmp_path, f"{n}.png", images.png((64, 48), seed=n)) for n in range(2)]
    text = "Two swifts\nabove the roofs"
    run = sharer(
        "upload", "--server", small_limit.base_url, "--json", "--description", text, *photos
    )
    assert run.code == 0, run.err
    lines = run.json_lines()
    assert len(lines) == 2
    assert [_status(line)["description"] for line in lines] == [text, text]


def test_a_description_the_server_refuses_is_reported(small_limit: Service, tmp_path: Path) -> None:
    photo = _write(tmp_path, "a.png", images.png((64, 48)))
    run = sharer(
        "upload", "--server", small_limit.base_url, "--json", "--description", "x\x1by", photo
    )
    assert run.code == 1
    (line,) = run.json_lines()
    assert line["status"] == 400
    assert "control character (U+001B" in str(line["error"])


def test_fit_turns_a_photo_over_the_limit_upright_and_drops_its_location(
    small_limit: Service, tmp_path: Path
) -> None:
    # Stored 640x480 with EXIF orientation 6 (turn 90 degrees clockwise) and a position.
    big = images.jpeg((640, 480), grain=30, quality=97, orientation=6, gps=True)
    assert len(big) > LIMIT
    photo = _write(tmp_path, "phone.jpg", big)
    plain = sharer("upload", "--server", small_limit.base_url, "--json", photo)
    (refused,) = plain.json_lines()
    assert refused["status"] == 413  # without --fit, nothing changes

    run = sharer("upload", "--server", small_limit.base_url, "--json", "--fit", "--wait", photo)
    assert run.code == 0, run.err
    (line,) = run.json_lines()
    fitted = line["fitted"]
    assert isinstance(fitted, dict)
    assert fitted["from_bytes"] == len(big)
    assert fitted["type"] == "image/jpeg"
    original = requests.get(str(line["original"]), timeout=10)
    assert len(original.content) == fitted["bytes"] <= LIMIT
    with Image.open(io.BytesIO(original.content)) as stored:
        # Upright: portrait now, and nothing left to turn it by, nor any position.
        assert stored.height > stored.width
        assert (stored.width, stored.height) == (fitted["width"], fitted["height"])
        exif = stored.getexif()
        assert ExifTags.Base.Orientation not in exif
        assert ExifTags.IFD.GPSInfo not in exif
        assert "xmp" not in stored.info
    assert str(line["original"]).endswith(".jpg")


def test_heic_goes_through_as_it_is_and_fitted_when_over_the_limit(
    small_limit: Service, tmp_path: Path
) -> None:
    small = _write(tmp_path, "IMG_0001.HEIC", images.heif((320, 240), seed=5))
    big_bytes = images.heif((700, 500), seed=6, quality=-1, exif=images.exif_bytes(gps=True))
    assert len(big_bytes) > LIMIT
    big = _write(tmp_path, "IMG_0002.HEIC", big_bytes)
    run = sharer("upload", "--server", small_limit.base_url, "--json", "--fit", small, big)
    assert run.code == 0, run.err
    lines = {line["file"]: line for line in run.json_lines()}
    assert str(lines[str(small)]["original"]).endswith(".heic")  # under the limit: as sent
    assert "fitted" not in lines[str(small)]
    fitted = lines[str(big)]["fitted"]
    assert isinstance(fitted, dict)
    assert (fitted["type"], fitted["width"], fitted["height"]) == ("image/jpeg", 700, 500)
    original = requests.get(str(lines[str(big)]["original"]), timeout=10).content
    with Image.open(io.BytesIO(original)) as stored:
        assert ExifTags.IFD.GPSInfo not in stored.getexif()


def test_fit_refuses_an_animation(small_limit: Service, tmp_path: Path) -> None:
    frames = [images.photo_image((320, 240), seed=n, grain=40) for n in range(8)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert len(out.getvalue()) > LIMIT
    animation = _write(tmp_path, "loop.gif", out.getvalue())
    run = sharer("upload", "--server", small_limit.base_url, "--json", "--fit", animation)
    assert run.code == 1
    (line,) = run.json_lines()
    assert "animation cannot be fitted" in str(line["error"])
