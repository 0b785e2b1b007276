"""Properties of the request validation, checked on generated input (Hypothesis).

- ``inspect_upload``: whatever the bytes, the only refusal is ``InvalidImage``; what it
  accepts is an image of the sniffed format with a sane size within the pixel cap, that
  Pillow (restricted to that one format) opens with the same size.
- ``admits_json``: RFC 9110 content negotiation, stated as properties rather than cases.
"""

import io
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from server.inspection import InvalidImage, UploadedImage, inspect_upload
from server.negotiation import admits_json
from sharer.formats import sniff
from support.mutations import is_seed, mutated_images, with_every_seed

MAX_PIXELS = 50_000_000
SIGNATURES = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBP"]
SIGNATURES += [b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"]
SIGNATURES += [b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00mif1avif"]

relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _inspect(data: bytes, max_pixels: int = MAX_PIXELS) -> UploadedImage | None:
    """The accepted image, or None for an ``InvalidImage``; anything else propagates."""
    try:
        return inspect_upload(data, max_pixels=max_pixels)
    except InvalidImage as exc:
        message = str(exc)
    assert message  # every refusal explains itself to the user
    return None


def _check_accepted(data: bytes, accepted: UploadedImage, max_pixels: int) -> None:
    assert accepted.image_format == sniff(data[:16])
    assert accepted.width >= 1
    assert accepted.height >= 1
    assert accepted.width * accepted.height <= max_pixels
    with Image.open(io.BytesIO(data), formats=(accepted.image_format.name,)) as image:
        assert image.size == (accepted.width, accepted.height)


@relaxed
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_are_refused_cleanly(data: bytes) -> None:
    accepted = _inspect(data)
    if accepted is not None:
        _check_accepted(data, accepted, MAX_PIXELS)


@relaxed
@given(st.sampled_from(SIGNATURES), st.binary(max_size=2048))
def test_a_right_signature_on_garbage_is_refused_cleanly(signature: bytes, tail: bytes) -> None:
    data = signature + tail
    accepted = _inspect(data)
    if accepted is not None:
        _check_accepted(data, accepted, MAX_PIXELS)


@pytest.mark.filterwarnings("ignore:.*:UserWarning:PIL.TiffImagePlugin")  # mutated EXIF
@relaxed
@given(mutated_images(), st.sampled_from([1, 100, 1536, MAX_PIXELS]))
@with_every_seed(MAX_PIXELS)
def test_mutated_images_are_accepted_sane_or_refused_cleanly(data: bytes, max_pixels: int) -> None:
    accepted = _inspect(data, max_pixels)
    if is_seed(data) and max_pixels == MAX_PIXELS:
        assert accepted is not None, "a valid seed was refused"
    if accepted is not None:
        _check_accepted(data, accepted, max_pixels)


# ---------------------------------------------------------------- negotiation

OTHER_RANGES = ["text/html", "image/*", "text/*", "image/webp", "application/xml"]
JSON_RANGES = ["application/json", "application/*", "*/*"]
weights = st.integers(0, 1000).map(lambda w: f"{w / 1000:.3f}".rstrip("0").rstrip("."))


def _range(media_range: str, weight: str | None) -> str:
    return media_range if weight is None else f"{media_range};q={weight}"


others = st.lists(st.builds(_range, st.sampled_from(OTHER_RANGES), weights | st.none()), max_size=4)


@given(others)
def test_ranges_that_cannot_match_json_refuse_it(ranges: list[str]) -> None:
    header = ", ".join(ranges)
    assert admits_json(header) is (not header.strip())  # an empty header admits all


@given(others, others, weights | st.none(), st.sampled_from(JSON_RANGES[1:]))
def test_an_explicit_application_json_range_decides(
    before: list[str], after: list[str], weight: str | None, wildcard: str
) -> None:
    # Whatever the wildcards and other types say, the most specific match wins.
    header = ", ".join([*before, f"{wildcard};q=1", _range("application/json", weight), *after])
    assert admits_json(header) is (weight is None or float(weight) > 0)


@given(st.lists(st.sampled_from(OTHER_RANGES + JSON_RANGES), min_size=1, max_size=5), weights)
def test_a_wildcard_is_overridden_by_a_more_specific_one(ranges: list[str], weight: str) -> None:
    # application/* is more specific than */*; appending a refusal of */* changes nothing
    # when application/json or application/* is present.
    header = ", ".join(ranges)
    matched = {"application/json", "application/*"} & set(ranges)
    if matched:
        assert admits_json(f"{header}, */*;q={weight}") is admits_json(header)


ascii_headers = st.text(alphabet=string.printable, max_size=120)


@given(ascii_headers)
def test_case_does_not_matter(header: str) -> None:
    assert admits_json(header.upper()) is admits_json(header.lower()) is admits_json(header)


@given(st.lists(st.builds(_range, st.sampled_from(OTHER_RANGES + JSON_RANGES), weights)), st.data())
def test_optional_whitespace_does_not_matter(ranges: list[str], data: st.DataObject) -> None:
    spaces = st.sampled_from(["", " ", "\t", "  "])
    spaced = [r.replace(";", data.draw(spaces) + ";" + data.draw(spaces), 1) for r in ranges]
    header = ",".join(data.draw(spaces) + r + data.draw(spaces) for r in spaced)
    assert admits_json(header) is admits_json(", ".join(ranges))
