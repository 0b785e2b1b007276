"""The Spot notice watcher against a fake IMDSv2 on loopback (a real HTTP server)."""

import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.instance_metadata import INSTANCE_ACTION, REBALANCE, FakeInstanceMetadata
from worker.spot_notices import (
    SAFETY_MARGIN_SECONDS,
    InstanceMetadata,
    SpotNotice,
    SpotNoticeWatcher,
)


@pytest.fixture(scope="module")
def imds() -> Iterator[FakeInstanceMetadata]:
    with FakeInstanceMetadata() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _no_notice(imds: FakeInstanceMetadata) -> None:
    imds.bodies.clear()


def test_no_notice_is_none_and_every_get_carries_a_token(imds: FakeInstanceMetadata) -> None:
    assert InstanceMetadata(imds.url).notice() is None
    assert imds.gets(INSTANCE_ACTION)[-1] == 404
    assert imds.gets(REBALANCE)[-1] == 404


def test_an_interruption_gives_its_time_and_wins_over_a_rebalance(
    imds: FakeInstanceMetadata,
) -> None:
    at = round(time.time()) + 120
    imds.recommend_rebalance(at - 300)
    imds.interrupt(at)
    assert InstanceMetadata(imds.url).notice() == SpotNotice("interruption", float(at))


def test_a_rebalance_recommendation_has_no_deadline(imds: FakeInstanceMetadata) -> None:
    imds.recommend_rebalance(time.time())
    assert InstanceMetadata(imds.url).notice() == SpotNotice("rebalance", None)


def test_an_expired_token_is_replaced_once(imds: FakeInstanceMetadata) -> None:
    metadata = InstanceMetadata(imds.url)
    assert metadata.notice() is None
    imds.expire_tokens()
    imds.recommend_rebalance(time.time())
    assert metadata.notice() == SpotNotice("rebalance", None)
    assert 401 in imds.gets(INSTANCE_ACTION)


def test_the_watcher_stops_the_worker_and_sets_the_drain_deadline(
    imds: FakeInstanceMetadata,
) -> None:
    watcher = SpotNoticeWatcher(InstanceMetadata(imds.url), poll_seconds=0.05)
    stop = threading.Event()
    thread = watcher.watch(stop)
    assert not stop.wait(0.3)
    assert watcher.drain_deadline() is None
    imds.interrupt(time.time() + 60)
    assert stop.wait(5)
    thread.join(5)
    deadline = watcher.drain_deadline()
    assert deadline is not None
    # To the second the notice gives, less the margin.
    assert deadline - time.monotonic() == pytest.approx(60 - SAFETY_MARGIN_SECONDS, abs=1.5)


def test_an_unreachable_endpoint_is_logged_and_watched_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with FakeInstanceMetadata() as gone:
        url = gone.url
    watcher = SpotNoticeWatcher(InstanceMetadata(url), poll_seconds=0.05)
    stop = threading.Event()
    assert watcher.check(stop) is False
    assert not stop.is_set()
    assert "instance metadata unavailable" in caplog.text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.binary(max_size=200), st.from_regex(r"\{.{0,80}\}", fullmatch=True).map(str.encode)
    )
)
def test_no_answer_crashes_the_watcher(imds: FakeInstanceMetadata, body: bytes) -> None:
    imds.serve(INSTANCE_ACTION, body)
    try:
        notice = InstanceMetadata(imds.url).notice()
    except OSError:
        return
    assert notice is not None
    assert notice.kind == "interruption"


def test_a_token_that_is_not_text_is_an_outage_not_a_crash(
    imds: FakeInstanceMetadata, caplog: pytest.LogCaptureFixture
) -> None:
    imds.token_body = b"\xff\xfe"
    try:
        stop = threading.Event()
        watcher = SpotNoticeWatcher(InstanceMetadata(imds.url), poll_seconds=0.05)
        assert watcher.check(stop) is False
    finally:
        imds.token_body = None
    assert "instance metadata unavailable" in caplog.text
