"""HEIC/HEIF and AVIF at the door, in the worker and in the metadata strip."""

import io
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from server.containers import heif, isobmff
from server.containers.walked import Malformed
from server.inspection import InvalidImage, UploadedImage, inspect_upload, unsupported_message
from server.privacy import strip_metadata
from sharer.formats import ACCEPTED, AVIF, HEIF, JPEG, PNG, WEBP, Animation, ImageFormat, sniff
from sharer.image_decoding import open_image
from sharer.messages import PlannedThumbnail
from support import hostile_images, images
from worker.thumbnails import make_thumbnails

CAP = 50_000_000
BUILDERS: dict[str, tuple[Callable[[], bytes], ImageFormat, bool]] = {
    "heif": (images.heif, HEIF, False),
    "heif_alpha": (lambda: images.heif(alpha=True), HEIF, True),
    "heif_grid": (lambda: images.heif((320, 240), tile_size=128), HEIF, False),
    "avif": (images.avif, AVIF, False),
    "avif_alpha": (lambda: images.avif(alpha=True), AVIF, True),
}


@cache
def _built(name: str) -> bytes:
    return BUILDERS[name][0]()


def _refusal(data: bytes, max_pixels: int = CAP) -> InvalidImage:
    with pytest.raises(InvalidImage) as caught:
        inspect_upload(data, max_pixels=max_pixels)
    return caught.value


@pytest.fixture
def no_codec(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the bytes reach pi-heif or libavif at all."""

    def opened(*_: object) -> None:
        pytest.fail("a codec opened a file that its boxes alone should have refused")

    monkeypatch.setattr("server.inspection.open_image", opened)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_accepts_heif_and_avif(name: str) -> None:
    _, image_format, has_alpha = BUILDERS[name]
    data = _built(name)
    assert sniff(data) is image_format
    accepted = inspect_upload(data, max_pixels=CAP)
    assert (accepted.image_format, accepted.width, accepted.height) == (image_format, 320, 240)
    assert accepted.has_alpha is has_alpha


def test_the_grid_is_read_from_its_boxes() -> None:
    structure = isobmff.read_structure(_built("heif_grid"))
    assert structure.primary_item is not None
    assert structure.item_types[structure.primary_item] == b"grid"
    assert len(structure.derived_from[structure.primary_item]) == 6  # 3x2 tiles of 128
    assert structure.primary_size() == (320, 240)


def test_a_heif_with_many_images_is_judged_on_its_primary_image() -> None:
    data = images.heif_many_images(40)
    assert len(isobmff.read_structure(data).item_types) >= 40
    accepted = inspect_upload(data, max_pixels=CAP)
    assert (accepted.width, accepted.height) == (64, 48)


@pytest.mark.usefixtures("no_codec")
@pytest.mark.parametrize(
    "bomb", [hostile_images.heif_bomb, hostile_images.avif_bomb], ids=["heif", "avif"]
)
def test_refuses_bombs_from_their_boxes_alone(bomb: Callable[[], bytes]) -> None:
    data = bomb()
    assert len(data) < 4096
    refused = _refusal(data)
    assert refused.reason == "too_many_pixels"
    assert "30000x30000" in str(refused)


@pytest.mark.parametrize("name", ["heif", "avif"])
def test_heif_and_avif_get_a_quarter_of_the_cap(name: str) -> None:
    data = _built(name)
    assert inspect_upload(data, max_pixels=4 * 320 * 240).width == 320
    assert _refusal(data, max_pixels=4 * 320 * 240 - 4).reason == "too_many_pixels"


def test_an_avif_image_sequence_is_accepted_as_an_animation() -> None:
    accepted = inspect_upload(images.avif_sequence(frames=3), max_pixels=CAP)
    assert (accepted.image_format, accepted.width, accepted.height) == (AVIF, 64, 48)
    assert accepted.animation == Animation(frames=3, plays=0)


@pytest.mark.usefixtures("no_codec")
def test_an_avif_sequence_coding_frames_past_its_declared_size_never_reaches_libavif() -> None:
    # The track header and the AV1 sample entry both declare 32x24; the samples code 64x48.
    data = bytearray(images.avif_sequence(frames=3))
    tkhd = data.index(b"tkhd") + 4 + 84 + 12  # version 1: width and height end the box
    data[tkhd - 8 : tkhd] = bytes.fromhex("0020000000180000")
    entry = data.index(b"av01", data.index(b"stsd")) + 4 + 24
    data[entry : entry + 4] = bytes.fromhex("00200018")
    assert _refusal(bytes(data)).reason == "undecodable"


def test_an_avif_sequence_later_sample_past_its_declared_size_fails_the_proof(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first sample keeps to the size; a later one may not: libavif never decodes it.
    from server.containers import avif_tracks
    from server.containers.av1 import av1_sequence_frame_size as real

    data = images.avif_sequence(frames=3)
    checked: list[int] = []

    def larger_after_the_first(obus: bytes) -> tuple[int, int] | None:
        checked.append(len(obus))
        return real(obus) if len(checked) == 1 else (4096, 4096)

    monkeypatch.setattr(avif_tracks, "av1_sequence_frame_size", larger_after_the_first)
    monkeypatch.setattr(Image.Image, "load", lambda _: pytest.fail("libavif decoded a frame"))
    assert _refusal(data).reason == "undecodable"


@pytest.mark.usefixtures("no_codec")
def test_a_heic_brand_on_av1_data_never_reaches_a_codec() -> None:
    # AV1 in a file that claims to be HEIC: libheif could hand it to another decoder.
    data = bytearray(_built("avif"))
    data[8:12] = b"heic"
    assert sniff(bytes(data)) is HEIF
    assert _refusal(bytes(data)).reason == "undecodable"


@pytest.mark.usefixtures("no_codec")
@pytest.mark.parametrize("name", ["heif", "heif_grid", "avif"])
@pytest.mark.parametrize("keep", [0.2, 0.5, 0.95])
def test_refuses_truncated_files_from_their_boxes(name: str, keep: float) -> None:
    assert _refusal(hostile_images.truncated(_built(name), keep)).reason == "undecodable"


@pytest.mark.parametrize("name", ["heif", "heif_alpha", "avif", "avif_alpha"])
def test_refuses_corrupt_coded_data(name: str) -> None:
    assert _refusal(hostile_images.corrupt(_built(name))).reason == "undecodable"


def test_the_accepted_formats_are_the_operators_choice() -> None:
    data = _built("heif")
    only = (JPEG, PNG)
    with pytest.raises(InvalidImage) as caught:
        inspect_upload(data, max_pixels=CAP, accepted=only)
    assert caught.value.reason == "unsupported_format"
    assert str(caught.value) == "This is not a JPEG or PNG image." == unsupported_message(only)
    assert inspect_upload(data, max_pixels=CAP, accepted=(HEIF,)).image_format is HEIF
    assert "HEIF or AVIF" in unsupported_message(tuple(ACCEPTED.values()))


def _thumbnail(data: bytes, source: ImageFormat, out: ImageFormat) -> Image.Image:
    spec = PlannedThumbnail("large", 160, 160, "k/large", out)
    encoded = make_thumbnails(data, source, [spec])["large"]
    image = Image.open(io.BytesIO(encoded))
    assert image.format == out.name
    return image


@pytest.mark.parametrize(("name", "out"), [("heif", JPEG), ("heif_alpha", WEBP), ("avif", JPEG)])
def test_the_worker_thumbnails_them(name: str, out: ImageFormat) -> None:
    _, source, has_alpha = BUILDERS[name]
    thumbnail = _thumbnail(_built(name), source, out)
    assert thumbnail.size == (160, 120)
    assert ("A" in thumbnail.mode) is has_alpha


@pytest.mark.parametrize("fmt", [HEIF, AVIF])
def test_orientation_ends_upright(fmt: ImageFormat) -> None:
    # Stored as 320x240 and turned a quarter (EXIF 6, written as irot by the encoders).
    data = (images.heif if fmt is HEIF else images.avif)(exif=images.exif_bytes(orientation=6))
    thumbnail = _thumbnail(data, fmt, JPEG)
    assert thumbnail.size == (120, 160)


@pytest.mark.parametrize("fmt", [HEIF, AVIF])
def test_the_strip_blanks_exif_and_xmp_and_keeps_the_pixels(fmt: ImageFormat) -> None:
    data = images.heif_with_metadata() if fmt is HEIF else images.avif_with_metadata()
    assert b"SyntheticCam" in data
    assert b"<x:xmpmeta" in data
    stripped = strip_metadata(data, fmt)
    assert b"SyntheticCam" not in stripped
    assert b"<x:xmpmeta" not in stripped
    before, after = open_image(data, fmt), open_image(stripped, fmt)
    assert after.tobytes() == before.tobytes()
    assert not after.getexif().get_ifd(0x8825)  # no GPS
    accepted: UploadedImage = inspect_upload(stripped, max_pixels=CAP)
    assert accepted.image_format is fmt


@pytest.mark.usefixtures("no_codec")
def test_an_avif_coding_larger_frames_than_it_declares_never_reaches_libavif() -> None:
    # libavif would decode the whole coded frame and crop it to the declared size.
    data = hostile_images.declared_as(images.avif((640, 480), grain=0), (64, 48))
    assert _refusal(data).reason == "undecodable"


def test_a_heif_coding_larger_frames_than_it_declares_is_refused() -> None:
    # libheif's own limit: the coded size may not exceed what ispe declares.
    data = hostile_images.declared_as(images.heif((640, 480), grain=0), (64, 48))
    assert _refusal(data).reason == "undecodable"


@pytest.mark.usefixtures("no_codec")
def test_a_box_repeated_inside_meta_is_refused() -> None:
    # Two pitm boxes: which primary image a codec would pick is not guessed.
    data = _built("heif")
    structure = isobmff.read_structure(data)
    meta = next(box for box in structure.top_level if box.kind == b"meta")
    pitm = next(b for b in isobmff.boxes(data, meta.body + 4, meta.end) if b.kind == b"pitm")
    twice = data[pitm.start : pitm.end] * 2
    grown = (meta.end - meta.start + len(twice) // 2).to_bytes(4)
    doubled = data[: meta.start] + grown + data[meta.start + 4 : pitm.start] + twice
    doubled += data[pitm.end :]
    assert _refusal(doubled).reason == "undecodable"


NOKIA_ALPHA = Path(__file__).resolve().parents[1] / "support" / "fixtures" / "nokia-alpha.heic"
NOKIA_ALPHA_BYTES = NOKIA_ALPHA.read_bytes()


def test_a_heic_overlay_with_an_alpha_plane_is_accepted_its_images_counted() -> None:
    # Nokia's alpha.heic: a 1440x960 overlay of two 1440x960 HEVC images; all three decode.
    data = NOKIA_ALPHA.read_bytes()
    decoded = 3 * 1440 * 960
    assert inspect_upload(data, max_pixels=4 * decoded).width == 1440
    assert _refusal(data, max_pixels=4 * decoded - 4).reason == "too_many_pixels"


@pytest.mark.usefixtures("no_codec")
def test_a_heic_overlay_whose_canvas_is_not_its_declared_size_never_reaches_libheif() -> None:
    data = NOKIA_ALPHA.read_bytes()
    canvas = data.index(bytes.fromhex("ffff05a003c0")) + 2  # after the fill, 1440x960
    mutated = data[:canvas] + bytes.fromhex("2d0003c0") + data[canvas + 4 :]
    assert _refusal(mutated).reason == "undecodable"


@given(st.binary(min_size=22, max_size=22))
@settings(max_examples=200, deadline=None)
def test_any_overlay_description_is_walked_or_refused_cleanly(description: bytes) -> None:
    # The overlay's description (22 bytes in its idat) replaced: the walk reads its canvas.
    data = NOKIA_ALPHA_BYTES
    at = data.index(bytes.fromhex("0000000000000000ffff05a003c0"))
    mutated = data[:at] + description + data[at + 22 :]
    try:
        walked = heif.walk(mutated)
    except Malformed:
        return
    assert walked.size == (1440, 960)
    assert walked.decoded_pixels == 3 * 1440 * 960


@pytest.mark.parametrize(
    ("track_duration", "repeats", "plays"),
    [(None, True, 0), (9, True, 3), (10, True, 4), (9, False, 1)],
)
def test_an_avif_sequence_plays_as_its_edit_list_says(
    track_duration: int | None, repeats: bool, plays: int
) -> None:
    # libavif writes a repeating edit list of one 3-tick segment and an indefinite track.
    data = bytearray(images.avif_sequence(frames=3))
    tkhd = data.index(b"tkhd") + 4
    if track_duration is not None:
        data[tkhd + 28 : tkhd + 36] = track_duration.to_bytes(8)
    elst = data.index(b"elst") + 4
    data[elst + 3] = int(repeats)
    assert inspect_upload(bytes(data), max_pixels=CAP).animation == Animation(3, plays)


def test_an_avif_sequences_movie_metadata_is_stripped_and_it_still_plays() -> None:
    # A user-data box in the movie box (where cameras put places and names); the still
    # item's and the track's offsets into the media data moved past it.
    data = bytearray(images.avif_sequence(frames=3))
    secret = b"GPS 51.5007N 0.1246W"
    udta = (8 + len(secret)).to_bytes(4) + b"udta" + secret
    item = isobmff.read_structure(bytes(data)).item_extents[1][0].offset
    at = data.index(item.to_bytes(4), data.index(b"iloc"))
    data[at : at + 4] = (item + len(udta)).to_bytes(4)
    moov = data.index(b"moov") - 4
    moov_end = moov + int.from_bytes(data[moov : moov + 4])
    data[moov : moov + 4] = (moov_end - moov + len(udta)).to_bytes(4)
    data[moov_end:moov_end] = udta
    stco = data.index(b"stco") + 4 + 8  # version and flags, entry count, first offset
    offset = int.from_bytes(data[stco : stco + 4]) + len(udta)
    data[stco : stco + 4] = offset.to_bytes(4)
    stripped = strip_metadata(bytes(data), AVIF)
    assert secret in data
    assert secret not in stripped
    accepted = inspect_upload(stripped, max_pixels=CAP)
    assert accepted.animation == Animation(3, 0)
    with open_image(stripped, AVIF) as image:
        assert getattr(image, "n_frames", 1) == 3
