"""Descriptions (``sharer.descriptions``): no form field crashes the check, and what it
keeps obeys the rules the share page and the job message rely on."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sharer.descriptions import (
    MAX_DESCRIPTION_BYTES,
    MAX_DESCRIPTION_CHARACTERS,
    InvalidDescription,
    description_from_form,
    normalized_description,
)
from sharer.formats import JPEG
from sharer.ids import new_image_id
from sharer.messages import MessageError, decode_job, encode_job, job_for_upload


@given(st.binary(max_size=2 * MAX_DESCRIPTION_BYTES))
def test_any_field_is_a_description_or_a_clear_refusal(data: bytes) -> None:
    refusal: InvalidDescription | None = None
    try:
        text = description_from_form(data)
    except InvalidDescription as exc:
        refusal, text = exc, None
    if refusal is not None:
        assert str(refusal).startswith("The description ")
    if text is None:
        return
    assert 0 < len(text) <= MAX_DESCRIPTION_CHARACTERS
    assert text == text.strip()
    assert "\r" not in text
    assert all(c in "\n\t" or not (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F) for c in text)
    assert normalized_description(text) == text  # normalizing twice changes nothing


@given(st.text(max_size=MAX_DESCRIPTION_CHARACTERS))
def test_a_description_survives_the_job_message_or_is_refused_before_it(text: str) -> None:
    try:
        kept = normalized_description(text)
    except InvalidDescription:
        return
    job = job_for_upload(new_image_id(), JPEG, False, description=kept)
    assert decode_job(encode_job(job)).description == kept


@pytest.mark.parametrize("text", ["  padded ", "a\r\nb", "bell\x07", ""])
def test_a_job_carrying_a_description_the_server_would_not_send_is_refused(text: str) -> None:
    body = encode_job(job_for_upload(new_image_id(), JPEG, False)).replace(
        '"version"', f'"description":{json.dumps(text)},"version"', 1
    )
    with pytest.raises(MessageError, match="description"):
        decode_job(body)
