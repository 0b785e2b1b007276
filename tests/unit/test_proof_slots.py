"""The per-process bound on costly proofs: slots, a few waiting places, then refusal."""

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from server.proof_slots import ProofsBusy, ProofSlots

BOUND_S = 10.0


@contextmanager
def holding(slots: ProofSlots, pool: ThreadPoolExecutor) -> Iterator[threading.Event]:
    """A proof holding one slot in another thread until the yielded event is set."""
    entered, release = threading.Event(), threading.Event()

    def proof() -> None:
        with slots.held():
            entered.set()
            release.wait(BOUND_S)

    done = pool.submit(proof)
    assert entered.wait(BOUND_S)
    try:
        yield release
    finally:
        release.set()
        done.result(BOUND_S)


def test_one_waits_for_the_slot_and_the_next_is_refused_at_once() -> None:
    slots = ProofSlots(1, waiters=1, wait_seconds=BOUND_S)
    with ThreadPoolExecutor(2) as pool, holding(slots, pool) as release:
        waited = threading.Event()

        def waiting() -> None:
            with slots.held():
                waited.set()

        waiter: Future[None] = pool.submit(waiting)
        # Room for the waiter to take the waiting place; should it not have yet, this
        # request takes the place instead and is refused when its wait runs out.
        time.sleep(0.2)
        with pytest.raises(ProofsBusy) as refused, slots.held():
            pytest.fail("a third proof ran while the slot was held")
        assert refused.value.retry_after == 1
        assert not waited.is_set()
        release.set()
        waiter.result(BOUND_S)
        assert waited.is_set()


@pytest.mark.parametrize(
    "slots",
    [
        ProofSlots(1, waiters=1, wait_seconds=0.05),
        # Waiting longer than the holder holds: a wait taken here would end in the slot.
        ProofSlots(1, wait_seconds=2 * BOUND_S),
    ],
    ids=["a wait that runs out", "no waiting place: at once"],
)
def test_a_proof_that_gets_no_slot_is_refused(slots: ProofSlots) -> None:
    with (
        ThreadPoolExecutor(1) as pool,
        holding(slots, pool),
        pytest.raises(ProofsBusy),
        slots.held(),
    ):
        pytest.fail("ran without a slot")
    with slots.held():  # free again once the holder is done
        pass
