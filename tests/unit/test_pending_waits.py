"""The ``Prefer: wait`` header as RFC 7240 writes it, and wake-ups addressed by image."""

import time
from pathlib import Path

import pytest

from server.pending_waits import preferred_wait
from sharer.queues.wakeup import WakeupChannel, WakeupListener

# A woken listener returns long before LONG_S; one not woken sleeps its SHORT_S out.
LONG_S = 10.0
SHORT_S = 0.2


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ([], None),
        (["wait=10"], 10),
        (["WAIT = 3"], 3),
        (['wait="7"'], 7),
        (["respond-async, wait=5"], 5),
        (["handling=lenient", "wait=4; foo=bar"], 4),
        # Only the first instance of a preference counts.
        (["wait=2, wait=9"], 2),
        (["return=minimal"], None),
        (["wait=soon"], None),
        (["wait=-1"], None),
        (["waiting=3"], None),
    ],
)
def test_the_wait_preference_is_read_as_rfc_7240_writes_it(
    headers: list[str], seconds: int | None
) -> None:
    assert preferred_wait(headers) == seconds


def _slept(listener: WakeupListener, seconds: float) -> float:
    began = time.monotonic()
    listener.wait(seconds)
    return time.monotonic() - began


def test_a_wakeup_reaches_the_listeners_of_its_topic_only(tmp_path: Path) -> None:
    channel = WakeupChannel(tmp_path / "wake")
    with channel.listening("image-a") as on_a, channel.listening("image-b") as on_b:
        channel.notify("image-a")
        assert _slept(on_a, LONG_S) < LONG_S / 2
        assert _slept(on_b, SHORT_S) >= SHORT_S
        channel.notify()  # no topic: every listener
        assert _slept(on_b, LONG_S) < LONG_S / 2


def test_a_topic_cannot_reach_into_another_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="topic"), WakeupChannel(tmp_path).listening("a~b"):
        pass
