"""The job message: round trip, and refusal of anything not understood."""

import json

import pytest

from sharer.formats import GIF, JPEG, PNG, WEBP, Animation
from sharer.ids import new_image_id
from sharer.messages import MessageError, decode_job, encode_job, job_for_upload
from sharer.status import (
    ImageFacts,
    ImageState,
    ImageStatus,
    decode_status,
    encode_status,
    status_for_job,
)
from sharer.thumbnail_sizes import THUMBNAIL_NAMES, THUMBNAIL_SIZES


def test_job_plans_every_size_largest_first_under_the_image_prefix() -> None:
    image_id = new_image_id()
    job = job_for_upload(image_id, PNG, has_alpha=True)
    assert job.original_key == f"images/{image_id}/original.png"
    assert [(t.name, t.width, t.height) for t in job.thumbnails] == [
        (s.name, s.width, s.height) for s in THUMBNAIL_SIZES
    ]
    # The worker cascades each thumbnail from the one before, so the plan is largest first.
    widths = [t.width for t in job.thumbnails]
    assert widths == sorted(widths, reverse=True)
    assert len(set(widths)) == len(widths) >= 3
    assert all(t.image_format is WEBP for t in job.thumbnails)
    assert all(t.key == f"images/{image_id}/{t.name}.webp" for t in job.thumbnails)


def test_opaque_images_get_jpeg_thumbnails() -> None:
    job = job_for_upload(new_image_id(), PNG, has_alpha=False)
    assert {t.image_format for t in job.thumbnails} == {JPEG}


def test_round_trip() -> None:
    job = job_for_upload(new_image_id(), JPEG, has_alpha=False)
    assert decode_job(encode_job(job)) == job
    with_digest = job_for_upload(new_image_id(), JPEG, False, delete_token_sha256="0f" * 32)
    assert decode_job(encode_job(with_digest)).delete_token_sha256 == "0f" * 32


def _tampered(**changes: object) -> str:
    doc = json.loads(encode_job(job_for_upload("A" * 22, JPEG, has_alpha=False)))
    for path, value in changes.items():
        target = doc
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (_tampered(version=2), "schema version"),
        (_tampered(version="1"), "schema version"),
        (_tampered(id="../etc"), "not an image id"),
        (_tampered(original__key="images/other/original.jpg"), "outside"),
        (_tampered(original__format="TIFF"), "unknown format"),
        (_tampered(thumbnails=[]), "no thumbnails"),
        (_tampered(delete_token_sha256="secret"), "SHA-256"),
        (_tampered(delete_token_sha256=None), "'delete_token_sha256'"),
        # An accepted upload format, but not one the worker encodes thumbnails in.
        (_tampered(thumbnails__0__format="PNG"), "unknown format"),
        (_tampered(thumbnails__0__box=[600]), "bad box"),
        (_tampered(thumbnails__0__box=[0, 600]), "bad box"),
        (_tampered(thumbnails__0__box=[True, 600]), "bad box"),
        (_tampered(thumbnails__1__key="images/AAAAAAAAAAAAAAAAAAAAAA/../x"), "outside"),
        # Inside the prefix, but a key one of the stores would refuse: dead-lettered at
        # once rather than retried until the receive count runs out.
        (_tampered(thumbnails__1__key="images/AAAAAAAAAAAAAAAAAAAAAA/a b.jpg"), "every store"),
        (_tampered(thumbnails__2__name=None), "'name'"),
    ],
)
def test_refuses_what_it_does_not_understand(body: str, complaint: str) -> None:
    with pytest.raises(MessageError, match=complaint):
        decode_job(body)


def test_status_round_trip_and_transition() -> None:
    job = job_for_upload(new_image_id(), JPEG, has_alpha=False)
    pending = status_for_job(job)
    assert pending.state is ImageState.PENDING
    assert set(pending.keys) == {"original", *THUMBNAIL_NAMES}
    failed = pending.with_state(ImageState.FAILED, "broken")
    assert decode_status(encode_status(failed)) == failed


def test_ready_status_round_trips_its_facts_and_old_records_still_decode() -> None:
    job = job_for_upload(new_image_id(), JPEG, False, delete_token_sha256="0f" * 32)
    facts = ImageFacts(
        480, 640, {"small": (75, 100), "large": (450, 600)}, "1QcSHQRnh493V4dIh4eXh1h4kJUI"
    )
    ready = status_for_job(job).with_state(ImageState.READY, facts=facts)
    decoded = decode_status(encode_status(ready))
    assert decoded == ready
    assert decoded.delete_token_sha256 == "0f" * 32
    old = json.dumps({"id": job.image_id, "state": "ready", "keys": {}, "reason": None})
    assert decode_status(old.encode()) == ImageStatus(job.image_id, ImageState.READY, {})


def test_an_animation_gets_webp_thumbnails_and_round_trips_in_job_and_status() -> None:
    animation = Animation(frames=12, plays=0)
    job = job_for_upload(new_image_id(), GIF, False, animation=animation)
    assert {t.image_format for t in job.thumbnails} == {WEBP}
    assert all(t.key.endswith(".webp") for t in job.thumbnails)
    assert decode_job(encode_job(job)) == job
    facts = ImageFacts(480, 270, {"small": (100, 56)}, "1QcSHQRnh493V4dIh4eXh1h4kJUI", 12)
    ready = status_for_job(job).with_state(ImageState.READY, facts=facts)
    assert decode_status(encode_status(ready)) == ready


@pytest.mark.parametrize(
    "animation",
    [{"frames": 1, "plays": 0}, {"frames": "3", "plays": 0}, {"frames": 3, "plays": -1}, []],
)
def test_refuses_an_animation_it_does_not_understand(animation: object) -> None:
    doc = json.loads(encode_job(job_for_upload(new_image_id(), GIF, False)))
    doc["animation"] = animation
    with pytest.raises(MessageError, match="animation"):
        decode_job(json.dumps(doc))
