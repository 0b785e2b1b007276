"""The Idempotency-Key field's parser and the records' decoder: no input crashes them,
and every key a client can send comes back as sent."""

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.idempotent_uploads import MAX_IDEMPOTENCY_KEY_LENGTH, parse_idempotency_key
from sharer.idempotency_records import (
    IdempotencyRecord,
    UploadAnswer,
    decode_record,
    encode_record,
    record_key,
)
from sharer.storage import validate_key

PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


def sf_string(key: str) -> str:
    """``key`` serialized as an RFC 8941 String."""
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(st.text(max_size=400))
def test_any_field_value_is_a_key_or_a_clear_refusal(field: str) -> None:
    refusal = None
    try:
        key = parse_idempotency_key(field)
    except ValueError as exc:
        refusal = str(exc)
    if refusal is None:
        assert 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH
    else:
        assert "Idempotency-Key" in refusal


@given(st.text(PRINTABLE, min_size=1, max_size=MAX_IDEMPOTENCY_KEY_LENGTH))
def test_every_printable_key_comes_back_as_sent(key: str) -> None:
    assert parse_idempotency_key(sf_string(key)) == key
    # Any key maps to a valid storage key of its own.
    validate_key(record_key(key))


@pytest.mark.parametrize(
    ("field", "key"),
    [
        ('"8e03978e-40d5-43e8-bc93-6894a57f9324"', "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        (' "padded" ', "padded"),
        ('"say \\"hi\\""', 'say "hi"'),
    ],
)
def test_examples(field: str, key: str) -> None:
    assert parse_idempotency_key(field) == key


@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.text(),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    )
)
def test_any_json_is_a_record_or_a_value_error(document: object) -> None:
    decoded: object = None
    with contextlib.suppress(ValueError):
        decoded = decode_record(json.dumps(document).encode())
    assert decoded is None or isinstance(decoded, IdempotencyRecord)


def test_a_record_survives_storage() -> None:
    record = IdempotencyRecord(
        "ab" * 32,
        "uJY0FDxblqZ8mt3iTRGgUQ",
        1_700_000_000.5,
        UploadAnswer({"original": "http://x/o.jpg"}, "/images/uJY0FDxblqZ8mt3iTRGgUQ"),
    )
    assert decode_record(encode_record(record)) == record
    assert decode_record(encode_record(record.finished())) == record.finished()
    assert record.finished().done
    assert not record.done
