"""The CLI's checks of what a server says: no input crashes them, and nothing they let
through to the terminal carries a control or format character."""

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cli.untrusted import (
    MAX_PRINTED,
    UntrustedAnswer,
    delete_token_of,
    image_id_of,
    printable,
    upload_limits_of,
    upload_urls,
)
from support.client import BODY_KEYS

# Text rich in what a terminal obeys (controls, bidi and other format characters, line
# separators), which uniform code points would hardly ever produce.
HOSTILE_TEXT = st.text(
    st.characters(categories=["Cc", "Cf", "Zl", "Zp"]) | st.characters() | st.sampled_from(":/h")
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=6),
    max_leaves=12,
)
URL_KEYS = st.sampled_from([*BODY_KEYS, "other"])


def _terminal_safe(text: str) -> bool:
    return not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text)


@given(HOSTILE_TEXT)
def test_printable_keeps_no_control_character_and_is_bounded(text: str) -> None:
    cleaned = printable(text)
    assert _terminal_safe(cleaned)
    assert len(cleaned) <= MAX_PRINTED


@given(JSON_VALUES | st.dictionaries(URL_KEYS, HOSTILE_TEXT | JSON_VALUES, max_size=5))
def test_upload_urls_refuse_or_give_the_contracts_clean_http_urls(document: object) -> None:
    try:
        urls = upload_urls(document)
    except UntrustedAnswer as exc:
        refusal = str(exc)
    else:
        refusal = ""
    assert _terminal_safe(refusal)
    if refusal:
        return
    assert tuple(urls) == BODY_KEYS
    for url in urls.values():
        assert url.startswith(("http://", "https://"))
        assert _terminal_safe(url)


@given(HOSTILE_TEXT)
def test_ids_and_tokens_are_refused_unless_of_their_shape(text: str) -> None:
    for parse in (image_id_of, lambda value: delete_token_of(value)):
        try:
            parsed = parse(text)
        except UntrustedAnswer:
            continue
        assert parsed is not None
        assert parsed.isascii()
        assert all(c.isalnum() or c in "-_" for c in parsed)


def test_a_good_answer_is_taken() -> None:
    urls = {k: f"https://cdn.example/images/x/{k}" for k in BODY_KEYS}
    assert upload_urls(urls | {"extra": 1}) == urls
    assert image_id_of("/images/uJY0FDxblqZ8mt3iTRGgUQ") == "uJY0FDxblqZ8mt3iTRGgUQ"
    assert delete_token_of("t" * 43) == "t" * 43
    # A replayed answer (Idempotency-Key) has no token; a malformed one is refused.
    assert delete_token_of(None) is None
    with pytest.raises(UntrustedAnswer):
        delete_token_of("t" * 42 + "\x1b")


def _openapi(image_field: object) -> dict[str, object]:
    return {"components": {"schemas": {"UploadForm": {"properties": {"image": image_field}}}}}


@given(
    JSON_VALUES
    | JSON_VALUES.map(_openapi)
    | st.fixed_dictionaries(
        {"x-max-bytes": JSON_VALUES | st.integers(), "x-media-types": JSON_VALUES}
    ).map(_openapi)
)
def test_upload_limits_refuse_or_give_a_positive_limit_and_media_types(document: object) -> None:
    try:
        limits = upload_limits_of(document)
    except UntrustedAnswer:
        return
    assert type(limits.max_bytes) is int
    assert limits.max_bytes >= 1
    assert all(printable(t) == t and "/" in t for t in limits.media_types)


def test_upload_limits_are_read_from_the_servers_document() -> None:
    field = {"x-max-bytes": 1048576, "x-media-types": ["image/jpeg", "image/heic"]}
    limits = upload_limits_of(_openapi(field))
    assert (limits.max_bytes, limits.media_types) == (
        1048576,
        frozenset({"image/jpeg", "image/heic"}),
    )
    with pytest.raises(UntrustedAnswer):
        upload_limits_of(_openapi(field | {"x-max-bytes": True}))
    with pytest.raises(UntrustedAnswer):
        upload_limits_of(_openapi(field | {"x-media-types": ["image/jpeg\x1b[2J"]}))
