"""The 202 is a promise: whatever the door accepts, the worker thumbnails.

A fixed corpus of valid, odd and mutated files of every accepted format
(``support.mutations.differential_corpus``) goes through the door
(``inspect_upload``) and, where accepted, through the real thumbnail function with the
specs the upload would queue. Pillow's own decoder (the format's plugin, first frame)
runs beside them as an oracle. Counted and asserted:

- accepted then failed: the door accepted a file the worker could not thumbnail (= 0);
- false refusals: a valid file refused (= 0);
- every format reaches both verdicts, so the corpus exercises the door at all.

``make test`` runs 150 mutants a seed; ``make fuzz`` (Hypothesis's ``fuzz``
profile) runs many more, with the same seeds.
"""

import io
import json
from collections import Counter
from dataclasses import dataclass, field

import pytest
from hypothesis import settings
from PIL import Image

from server.inspection import InvalidImage, inspect_upload
from sharer.formats import ACCEPTED, SNIFF_BYTES, ImageFormat, sniff
from sharer.ids import new_image_id
from sharer.image_decoding import DECODE_ERRORS
from sharer.messages import job_for_upload
from support.mutations import CorpusFile, differential_corpus
from worker.processing import render_for_job
from worker.thumbnails import ThumbnailError

# Small enough that a mutant declaring up to the cap decodes in milliseconds.
MAX_PIXELS = 1_000_000


@dataclass
class Tally:
    """The counts the test reports, overall and per sniffed format."""

    files: int = 0
    refused: int = 0
    thumbnailed: int = 0
    accepted_then_failed: list[str] = field(default_factory=list)
    false_refusals: list[str] = field(default_factory=list)
    refused_though_pillow_decodes: int = 0
    verdicts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def summary(self) -> dict[str, object]:
        """The counts as JSON-ready values."""
        return {
            "files": self.files,
            "refused": self.refused,
            "thumbnailed": self.thumbnailed,
            "accepted_then_failed": len(self.accepted_then_failed),
            "false_refusals": len(self.false_refusals),
            "refused_though_pillow_decodes": self.refused_though_pillow_decodes,
        }


def _pillow_decodes(data: bytes, image_format: ImageFormat | None) -> bool:
    """The oracle: the format's Pillow plugin decodes the first frame (within the cap)."""
    if image_format is None:
        return False
    try:
        with Image.open(io.BytesIO(data), formats=(image_format.name,)) as image:
            if image.width * image.height > MAX_PIXELS:
                return False
            image.load()
    except DECODE_ERRORS:
        return False
    return True


def _judge(item: CorpusFile, tally: Tally) -> None:
    tally.files += 1
    image_format = sniff(item.data[:SNIFF_BYTES])
    label = image_format.name if image_format else "unsniffed"
    try:
        accepted = inspect_upload(item.data, max_pixels=MAX_PIXELS)
    except InvalidImage:
        tally.refused += 1
        tally.verdicts[label, "refused"] += 1
        if item.valid:
            tally.false_refusals.append(item.name)
        elif _pillow_decodes(item.data, image_format):
            tally.refused_though_pillow_decodes += 1
        return
    job = job_for_upload(
        new_image_id(), accepted.image_format, accepted.has_alpha, animation=accepted.animation
    )
    try:
        made = render_for_job(job, item.data).encoded
    except ThumbnailError as exc:
        tally.accepted_then_failed.append(f"{item.name}: {exc}")
        return
    assert set(made) == {spec.name for spec in job.thumbnails}
    tally.thumbnailed += 1
    tally.verdicts[label, "thumbnailed"] += 1


@pytest.mark.filterwarnings("ignore::UserWarning")  # mutated EXIF and APNG chunks
def test_the_door_accepts_only_what_the_worker_thumbnails() -> None:
    mutants = max(150, settings().max_examples // 10)
    tally = Tally()
    for item in differential_corpus(mutants):
        _judge(item, tally)
    print("differential:", json.dumps(tally.summary()))
    assert tally.accepted_then_failed == []
    assert tally.false_refusals == []
    for image_format in ACCEPTED:
        # Each format's corpus reaches both verdicts: the test exercises the door.
        assert tally.verdicts[image_format, "refused"] > 0, image_format
        assert tally.verdicts[image_format, "thumbnailed"] > 0, image_format
    assert tally.files == tally.refused + tally.thumbnailed
