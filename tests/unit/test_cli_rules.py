"""The CLI's rules that need no server: when to retry and for how long, and which image
and server a delete URL names."""

from email.utils import formatdate

import pytest

from cli.main import image_reference
from cli.retry import UPLOAD_RETRIED_STATUSES, RetryPolicy, parse_retry_after

IMAGE_ID = "uJY0FDxblqZ8mt3iTRGgUQ"


@pytest.mark.parametrize("status", [None, 429, 502, 503, 504])
def test_busy_answers_and_no_answer_are_retried_until_the_last_attempt(
    status: int | None,
) -> None:
    policy = RetryPolicy(attempts=3)
    assert policy.should_retry(1, status)
    assert policy.should_retry(2, status)
    assert not policy.should_retry(3, status)


@pytest.mark.parametrize("status", [200, 202, 400, 401, 403, 404, 406, 410, 413, 500])
def test_other_answers_are_final(status: int) -> None:
    assert not RetryPolicy().should_retry(1, status)


def test_an_upload_in_progress_is_retried_only_for_uploads() -> None:
    policy = RetryPolicy(attempts=3)
    # An upload carries its Idempotency-Key: 409 means the same upload is still running.
    assert policy.should_retry(1, 409, UPLOAD_RETRIED_STATUSES)
    assert not policy.should_retry(3, 409, UPLOAD_RETRIED_STATUSES)
    assert not policy.should_retry(1, 422, UPLOAD_RETRIED_STATUSES)
    # Any other request's 409 is final.
    assert not policy.should_retry(1, 409)


def test_an_upload_in_progress_spends_no_attempt_within_its_budget() -> None:
    tries = RetryPolicy(attempts=2, first_delay=0.0).tries(UPLOAD_RETRIED_STATUSES)
    for _ in range(10):
        assert tries.wait_after(409, "0") is not None
    assert tries.spent == 0
    assert tries.wait_after(503, None) is not None
    assert tries.wait_after(503, None) is None


def test_an_upload_in_progress_past_its_budget_spends_attempts() -> None:
    policy = RetryPolicy(attempts=2, first_delay=0.0, in_progress_seconds=0.0)
    tries = policy.tries(UPLOAD_RETRIED_STATUSES)
    assert tries.wait_after(409, "0") is not None
    assert tries.wait_after(409, "0") is None
    # Any other request's 409 is final at once.
    assert RetryPolicy().tries().wait_after(409, "0") is None


def test_waits_follow_retry_after_else_back_off_and_are_jittered_upwards() -> None:
    policy = RetryPolicy(first_delay=0.5, max_delay=30.0, jitter=0.25)
    for _ in range(50):
        assert 7.0 <= policy.delay(1, "7") <= 7.0 * 1.25
        assert 2.0 <= policy.delay(3, None) <= 2.0 * 1.25
        assert 30.0 <= policy.delay(1, "3600") <= 30.0 * 1.25  # bounded


def test_retry_after_as_seconds_or_an_http_date() -> None:
    now = 1_800_000_000.0
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == 30.0
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"https://img.example.com/i/{IMAGE_ID}", (IMAGE_ID, "https://img.example.com")),
        (f"http://127.0.0.1:8080/images/{IMAGE_ID}", (IMAGE_ID, "http://127.0.0.1:8080")),
        # An image URL may be on the CDN, which does not take deletes: the server is --server's.
        (f"https://cdn.example.net/images/{IMAGE_ID}/small.jpg", (IMAGE_ID, None)),
        (IMAGE_ID, (IMAGE_ID, None)),
        ("https://img.example.com/upload", (None, None)),
        ("not an id", (None, None)),
    ],
)
def test_a_delete_names_the_image_and_its_server(
    text: str, expected: tuple[str | None, str | None]
) -> None:
    assert image_reference(text) == expected
