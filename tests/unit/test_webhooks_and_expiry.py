"""Webhook signatures, retries, targets and the expiry field, without processes: the
parts ``tests/e2e/test_expiry_webhooks_takedowns.py`` drives over HTTP."""

import base64
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from sharer.backends import WEBHOOK_MAX_RECEIVES
from sharer.expiry import (
    InvalidExpiry,
    expiring_key,
    expiry_tags,
    parse_expires_in,
    parse_expiring_key,
    rfc3339,
)
from sharer.ids import new_image_id
from sharer.key_scheme import EXPIRY_TAG, EXPIRY_TAG_DAYS
from sharer.settings import (
    CommonSettings,
    ServerSettings,
    SettingsError,
    WebhookDeliverySettings,
)
from sharer.webhook_events import EventType, decode_event, encode_event, new_event
from sharer.webhook_signatures import webhook_headers
from support.fakes import FakeQueue
from webhook_delivery.delivery import RETRY_WINDOW_SECONDS, WebhookDeliverer, retry_delay
from webhook_delivery.targets import TargetRefused, check_target

KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()


def test_signatures_verify_with_the_reference_library_and_tampering_fails() -> None:
    now = int(time.time())  # the verifier refuses a timestamp five minutes off its clock
    event = new_event(EventType.READY, {"id": "x", "status": "ready"}, now=now)
    body = event.payload.encode()
    headers = webhook_headers(KEY, event.webhook_id, now, body)
    verifier = Webhook(SECRET)
    assert verifier.verify(body, headers) == {
        "type": "image.ready",
        "timestamp": rfc3339(now),
        "data": {"id": "x", "status": "ready"},
    }
    with pytest.raises(WebhookVerificationError):
        verifier.verify(body.replace(b"ready", b"faile"), headers)
    with pytest.raises(WebhookVerificationError):
        verifier.verify(body, headers | {"webhook-id": "msg_another"})


def test_retries_span_a_day_before_the_queue_itself_would_give_up() -> None:
    for base in (1, 30, 3600):
        # The shortest schedule: every jitter at its lowest.
        delays = [retry_delay(n, base, lambda: 0.0) for n in range(1, WEBHOOK_MAX_RECEIVES)]
        assert sum(delays) >= RETRY_WINDOW_SECONDS
        assert max(delays) <= 3600
    longest = [retry_delay(n, 1, lambda: 0.999) for n in range(1, 6)]
    assert longest == [1, 2, 4, 8, 16]


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/", "http://10.1.2.3/", "http://169.254.169.254/", "http://[::1]/"],
)
def test_private_targets_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(TargetRefused, match="SHARER_WEBHOOK_ALLOW_PRIVATE"):
        check_target(url, allow_private=False)
    check_target(url, allow_private=True)
    check_target("https://93.184.215.14/hooks", allow_private=False)


@pytest.fixture
def redirecting() -> Iterator[tuple[str, list[str]]]:
    """A receiver answering 302 to another path of its own; yields its URL and the paths."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.path)
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_redirect_is_not_followed_and_the_event_is_retried(
    redirecting: tuple[str, list[str]],
) -> None:
    url, seen = redirecting
    queue = FakeQueue()
    queue.send(encode_event(new_event(EventType.DELETED, {"id": "x"}, now=0.0)))
    (delivery,) = queue.receive(1, 0)
    WebhookDeliverer(
        queue, url, KEY, allow_private=True, retry_base_seconds=5, clock=lambda: 10.0
    ).handle(delivery)
    assert seen == ["/hooks"]
    assert queue.held(delivery.receipt).visible is False  # hidden until its retry
    assert queue.dead == []


def test_an_event_a_day_old_that_fails_goes_to_the_dead_letter_queue() -> None:
    queue = FakeQueue()
    queue.send(encode_event(new_event(EventType.READY, {"id": "x"}, now=0.0)))
    (delivery,) = queue.receive(1, 0)
    WebhookDeliverer(
        queue,
        "http://127.0.0.1:9/hooks",  # nothing listens: refused
        KEY,
        allow_private=True,
        retry_base_seconds=5,
        clock=lambda: float(RETRY_WINDOW_SECONDS),
    ).handle(delivery)
    ((body, reason),) = queue.dead
    assert body == delivery.body
    assert reason.startswith("gave up after a day")


@given(st.text(max_size=200))
def test_any_queue_message_decodes_or_raises_value_error(text: str) -> None:
    try:
        event = decode_event(text)
    except ValueError:
        return
    assert isinstance(event.payload, str)


@given(st.text(max_size=20))
def test_any_expires_in_is_in_bounds_or_refused(text: str) -> None:
    try:
        seconds = parse_expires_in(text, minimum=60, maximum=3600)
    except InvalidExpiry:
        return
    assert 60 <= seconds <= 3600


def test_expiry_keys_sort_by_time_and_parse_back() -> None:
    image_id = new_image_id()
    early, late = expiring_key(image_id, 999_999_999), expiring_key(image_id, 1_000_000_000)
    assert early < late
    assert parse_expiring_key(late) == (1_000_000_000, image_id)
    assert parse_expiring_key("expiring/12-x.json") is None


def test_the_lifecycle_tag_always_covers_what_is_left() -> None:
    assert expiry_tags(None, 0) is None
    for left in (60, 86_400, 86_401, 30 * 86_400, 364 * 86_400):
        tags = expiry_tags(left, 0)
        assert tags is not None
        assert int(tags[EXPIRY_TAG]) * 86_400 >= left
        assert tags[EXPIRY_TAG] in {str(d) for d in EXPIRY_TAG_DAYS}


@pytest.mark.parametrize(
    ("section", "environ", "variable"),
    [
        (
            WebhookDeliverySettings,
            {"SHARER_WEBHOOK_URL": "https://e.org/h"},
            "SHARER_WEBHOOK_SECRET",
        ),
        (WebhookDeliverySettings, {"SHARER_WEBHOOK_SECRET": "not-whsec"}, "SHARER_WEBHOOK_SECRET"),
        (
            WebhookDeliverySettings,
            {"SHARER_WEBHOOK_SECRET": "whsec_c2hvcnQ="},
            "SHARER_WEBHOOK_SECRET",
        ),
        (CommonSettings, {"SHARER_WEBHOOK_URL": "ftp://example.org/"}, "SHARER_WEBHOOK_URL"),
        (
            ServerSettings,
            {"SHARER_MAX_EXPIRES_SECONDS": str(400 * 86_400)},
            "SHARER_MAX_EXPIRES_SECONDS",
        ),
        (ServerSettings, {"SHARER_MIN_EXPIRES_SECONDS": "0"}, "SHARER_MIN_EXPIRES_SECONDS"),
        (
            CommonSettings,
            {"SHARER_WEBHOOK_QUEUE_URL": "https://sqs.example/1/q"},
            "SHARER_WEBHOOK_DEAD_LETTER_QUEUE_URL",
        ),
    ],
)
def test_bad_webhook_and_expiry_settings_name_the_variable(
    section: type[CommonSettings | ServerSettings | WebhookDeliverySettings],
    environ: dict[str, str],
    variable: str,
) -> None:
    with pytest.raises(SettingsError, match=variable):
        section.from_env(environ)


def test_webhook_settings_load() -> None:
    environ = {"SHARER_WEBHOOK_URL": "https://example.org/h", "SHARER_WEBHOOK_SECRET": SECRET}
    assert WebhookDeliverySettings.from_env(environ).webhook_secret == KEY
    assert ServerSettings.from_env(environ).min_expires_seconds == 60
