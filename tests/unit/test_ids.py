"""Image ids: 128 random bits, URL-safe, recognisable."""

import base64

from sharer.ids import is_image_id, new_image_id


def test_ids_carry_128_random_bits_in_url_safe_text() -> None:
    ids = {new_image_id() for _ in range(2000)}
    assert len(ids) == 2000
    for image_id in ids:
        assert is_image_id(image_id)
        assert len(base64.urlsafe_b64decode(image_id + "==")) == 16


def test_foreign_text_is_not_an_id() -> None:
    for text in ("", "../../etc/passwd", "a" * 21, "a" * 23, "a/" * 11, "é" * 22):
        assert not is_image_id(text)
