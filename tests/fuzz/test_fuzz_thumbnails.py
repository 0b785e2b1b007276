"""Fuzzing ``make_thumbnails`` with mutated real images (see ``thumbnail_target``)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.thumbnail_target import check_thumbnails
from sharer.formats import ACCEPTED, JPEG, PNG, sniff
from sharer.messages import PlannedThumbnail
from support import hostile_images, images
from support.mutations import is_seed, mutated_images, seeds, with_every_seed
from worker.thumbnails import ThumbnailError, make_thumbnails


@pytest.mark.filterwarnings("ignore:.*:UserWarning:PIL.TiffImagePlugin")  # mutated EXIF
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_images(), st.sampled_from(sorted(ACCEPTED)))
@with_every_seed("JPEG")
def test_mutated_images_give_thumbnails_or_the_documented_error(data: bytes, fallback: str) -> None:
    # The worker is told the format the server sniffed; bytes that no longer sniff are
    # handed over as some accepted format all the same.
    outcome = check_thumbnails(data, sniff(data[:16]) or ACCEPTED[fallback])
    if is_seed(data):
        assert outcome == "thumbnailed", "a valid seed was not thumbnailed"


def test_every_seed_gives_thumbnails() -> None:
    for name, data in seeds().items():
        source_format = sniff(data[:16])
        assert source_format is not None, name
        assert check_thumbnails(data, source_format) == "thumbnailed", name


def test_a_truncated_interlaced_png_is_the_documented_error() -> None:
    # Found by the fuzz target: Pillow raised TypeError on the second load() of a damaged
    # interlaced PNG, which escaped the thumbnailer.
    damaged = hostile_images.truncated(images.interlaced_png((48, 32)))
    with pytest.raises(ThumbnailError):
        make_thumbnails(damaged, PNG, [PlannedThumbnail("small", 100, 100, "k", JPEG)])


def test_a_broken_colour_profile_is_ignored() -> None:
    # Found by the fuzz target: such a JPEG passes inspection (202), and LittleCMS's
    # OSError escaped the thumbnailer, so the promised thumbnails were never made.
    data = images.jpeg((48, 32), icc_profile=b"\x00" * 200)
    made = make_thumbnails(data, JPEG, [PlannedThumbnail("small", 100, 100, "k", JPEG)])
    assert set(made) == {"small"}
