"""The JPEG marker walk and the skeleton that replaces a full decode at the door.

The claim under test is the one inspection rests on: whatever the skeleton proof accepts,
Pillow's full decode of the real file accepts too (the worker never meets a JPEG it
cannot read), while the pixel data itself is never entropy-decoded.
"""

import io
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from server.containers.jpeg import EOI, SOS, jpeg_segments, jpeg_skeleton
from server.inspection import InvalidImage, inspect_upload
from sharer.formats import JPEG
from sharer.image_decoding import DECODE_ERRORS, open_image
from support import images

CAP = 50_000_000
# A restart marker every 3 MCUs: resynchronisation is where libjpeg is most lenient.
WITH_RESTARTS = {"restart_marker_blocks": 3}


def encoded(**options: object) -> bytes:
    return images.encode(images.photo_image((160, 120), seed=3), "JPEG", **options)


VALID = {
    "baseline": images.jpeg(),
    "progressive": images.jpeg(progressive=True),
    "grayscale": images.jpeg(mode="L"),
    "cmyk": images.jpeg(mode="CMYK"),
    "restarts": encoded(**WITH_RESTARTS),
    "progressive restarts": encoded(progressive=True, **WITH_RESTARTS),
    "4:4:4": encoded(subsampling=0),
    "exif and icc": images.jpeg(orientation=6, icc_profile=images.srgb_icc()),
}


def full_decode_accepts(data: bytes) -> bool:
    """What the worker meets: Pillow (JPEG plugin only) decoding every scan, full size."""
    try:
        with open_image(data, JPEG) as image:
            image.load()
    except DECODE_ERRORS:
        return False
    return True


def inspection_accepts(data: bytes) -> bool:
    try:
        inspect_upload(data, max_pixels=CAP)
    except InvalidImage:
        return False
    return True


def scans(data: bytes) -> list[bytes]:
    """Each scan's header (SOS segment), in order."""
    return [data[s.start : s.header_end] for s in jpeg_segments(data) if s.marker == SOS]


@pytest.mark.parametrize("data", VALID.values(), ids=VALID.keys())
def test_the_skeleton_keeps_every_marker_and_drops_the_pixel_data(data: bytes) -> None:
    segments = list(jpeg_segments(data))
    skeleton = jpeg_skeleton(data)
    assert segments[-1].marker == EOI
    entropy_bytes = sum(s.end - s.header_end for s in segments)
    assert entropy_bytes > 0.9 * len(data) - 2000  # the pixels are nearly all of the file
    assert len(skeleton) == len(data) - entropy_bytes  # and only they are left out
    assert scans(skeleton) == scans(data)
    with Image.open(io.BytesIO(data)) as whole, Image.open(io.BytesIO(skeleton)) as bare:
        assert (bare.format, bare.mode, bare.size) == (whole.format, whole.mode, whole.size)
    assert inspection_accepts(data)


def test_a_progressive_file_has_many_scans_and_all_are_kept() -> None:
    data = VALID["progressive"]
    assert len(scans(data)) >= 6
    assert scans(jpeg_skeleton(data)) == scans(data)


@pytest.mark.parametrize(
    ("cut", "why"),
    [(-2, "no end-of-image marker"), (-200, "inside the last scan"), (30, "inside a header")],
)
def test_a_file_that_ends_early_is_truncated(cut: int, why: str) -> None:
    data = VALID["progressive"][:cut]
    with pytest.raises(SyntaxError, match="ends before its end-of-image marker"):
        jpeg_skeleton(data)
    assert not inspection_accepts(data), why


def test_bytes_between_segments_are_skipped_as_libjpeg_does() -> None:
    data = VALID["baseline"]
    first_scan = next(s for s in jpeg_segments(data) if s.marker == SOS)
    padded = data[: first_scan.start] + b"\x00junk\xff\x00" + data[first_scan.start :]
    assert full_decode_accepts(padded)
    assert scans(padded) == scans(data)
    assert inspection_accepts(padded)


def test_a_stray_marker_inside_a_scan_is_damage() -> None:
    data = VALID["restarts"]
    scan = next(s for s in jpeg_segments(data) if s.marker == SOS)
    middle = (scan.header_end + scan.end) // 2
    damaged = data[:middle] + b"\xff\x22" + data[middle:]
    with pytest.raises(SyntaxError, match="damaged"):
        jpeg_skeleton(damaged)
    assert not inspection_accepts(damaged)


def test_a_broken_header_of_a_later_scan_is_found_without_decoding_pixels() -> None:
    data = bytearray(VALID["progressive"])
    last_scan = [s for s in jpeg_segments(bytes(data)) if s.marker == SOS][-1]
    # The scan's end of spectral selection (Se) becomes 99: no such coefficient exists.
    se_offset = last_scan.header_end - 2
    data[se_offset] = 99
    assert not full_decode_accepts(bytes(data))
    assert not inspection_accepts(bytes(data))


def test_a_missing_quantisation_table_is_found() -> None:
    data = VALID["baseline"]
    tables = [s for s in jpeg_segments(data) if s.marker == 0xDB]
    without = data
    for table in reversed(tables):
        without = without[: table.start] + without[table.header_end :]
    assert not full_decode_accepts(without)
    assert not inspection_accepts(without)


def _in_a_segment(data: bytes, rng: random.Random) -> int:
    """A random offset inside a marker segment's body (not the pixel data)."""
    segment = rng.choice([s for s in jpeg_segments(data) if s.header_end - s.start > 4])
    return rng.randrange(segment.start + 4, segment.header_end)


def _damage(data: bytes, rng: random.Random) -> bytes:
    """One to three of the ways a JPEG arrives damaged: half of them a byte inside a
    marker segment (where libjpeg, not a warning, decides), the rest anywhere."""
    header_offsets = [_in_a_segment(data, rng) for _ in range(3)]
    damaged = bytearray(data)
    for header_offset in header_offsets[: rng.randint(1, 3)]:
        if rng.random() < 0.5 and header_offset < len(damaged):
            damaged[header_offset] = rng.randrange(256)
            continue
        at = rng.randrange(2, len(damaged))
        kind = rng.choice(["byte", "marker", "cut", "hole"])
        if kind == "byte":
            damaged[at] = rng.randrange(256)
        elif kind == "marker":
            damaged[at:at] = bytes([0xFF, rng.randrange(256)])
        elif kind == "cut":
            del damaged[at:]
        else:
            del damaged[at : at + rng.randint(1, 64)]
        if len(damaged) < 4:
            break
    return bytes(damaged)


@pytest.mark.filterwarnings("ignore:.*:UserWarning:PIL.TiffImagePlugin")  # damaged EXIF
def test_damage_in_marker_segments_reaches_both_verdicts() -> None:
    # Keeps the property below honest: a damaged segment byte is sometimes harmless (an
    # APP payload, a table value) and sometimes fatal, and inspection tells them apart
    # as the full decode does.
    rng = random.Random(7)
    verdicts = []
    for _ in range(150):
        damaged = bytearray(VALID[rng.choice(sorted(VALID))])
        damaged[_in_a_segment(bytes(damaged), rng)] = rng.randrange(256)
        accepted = inspection_accepts(bytes(damaged))
        verdicts.append(accepted)
        if accepted:
            assert full_decode_accepts(bytes(damaged))
    assert 0 < sum(verdicts) < len(verdicts)


relaxed = settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.filterwarnings("ignore:.*:UserWarning:PIL.TiffImagePlugin")  # damaged EXIF
@relaxed
@given(st.sampled_from(sorted(VALID)), st.randoms(use_true_random=False))
def test_what_inspection_accepts_the_full_decode_accepts(name: str, rng: random.Random) -> None:
    damaged = _damage(VALID[name], rng)
    if inspection_accepts(damaged):
        assert full_decode_accepts(damaged)
