"""How `make test` shares the suite between its two xdist workers (``-n 2 --dist loadgroup``).

A group runs whole on one worker, so nothing a group shares is started twice:

- a module is a group, so its module-scoped service starts once;
- tests/infra and tests/hostile are one group each: their session-scoped synthesis and
  services serve all their modules;
- ``MEASURED`` modules assert on latencies, drains, predicted/measured ratios or memory
  growth under load: they are one group, so no two of them ever run at once, and it is
  handed out first, to run beside ``IN_PROCESS`` directories (no server of their own, one
  core at most) rather than beside other groups' servers and workers.

xdist's own loadgroup reads ``xdist_group`` marks by renaming each test's node id, which
pytest 9 no longer allows (``Node.nodeid`` is computed), so its groups silently become
single tests (github.com/pytest-dev/pytest-xdist/issues/1386, open); the scheduler below
groups by module path instead, from the table here, and needs no marks.
Groups are handed out in collection order (the Makefile passes --no-loadscope-reorder),
which the hook at the end sets.

The suite's Hypothesis profile has no per-example deadline: a deadline is a timing
assertion, and this suite runs on shared, noisy machines where one example can take
several times its usual time; speed belongs in the benchmarks (``make bench``). A profile
named on the command line (``--hypothesis-profile=fuzz``) is left as given.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from xdist.remote import Producer
from xdist.scheduler import LoadScopeScheduling
from xdist.scheduler.protocol import Scheduling

TESTS = Path(__file__).resolve().parent

MEASURED = frozenset(
    {
        "rehearsal/test_rehearsal.py",
        "load/test_load.py",
        "hostile/test_slow_clients.py",
        "hostile/test_proof_flood.py",
        "scaling/test_calibration.py",
        "e2e/test_memory_budget.py",
    }
)
MEASURED_GROUP = "measured"
SHARED_PER_DIRECTORY = frozenset({"infra", "hostile"})
IN_PROCESS = ("unit", "contract", "infra", "scaling", "fuzz")

settings.register_profile("suite", deadline=None)


def _group(module: str) -> str:
    directory = module.split("/", 1)[0]
    if module in MEASURED:
        return MEASURED_GROUP
    if directory in SHARED_PER_DIRECTORY:
        return directory
    return module


def _module(item: pytest.Item) -> str:
    return Path(item.path).relative_to(TESTS).as_posix()


def _dispatch_order(item: pytest.Item) -> int:
    module = _module(item)
    if module in MEASURED:
        return 0
    return 1 if module.split("/", 1)[0] in IN_PROCESS else 2


class GroupScheduling(LoadScopeScheduling):
    """xdist's scope scheduling, a scope being one of the groups above."""

    def _split_scope(self, nodeid: str) -> str:
        return _group(nodeid.split("::", 1)[0].removeprefix("tests/"))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> Scheduling | None:
    """Our groups for ``--dist loadgroup``; xdist's own scheduling for any other mode."""
    if config.getvalue("dist") == "loadgroup":
        return GroupScheduling(config, log)
    return None


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Iterator[None]:
    """Put the groups in dispatch order once every other hook (pytest's ordering by
    fixture among them) is done; the sort is stable, so tests keep their order within a
    group.

    Before that, a test whose node id leaves out the case its name holds gets its name
    back in the id: schemathesis's items (one per API operation) come out of pytest 9
    all with one node id, and xdist, which runs tests by node id, would run one of them
    in their place."""
    for item in items:
        if item.parent is not None and not item.nodeid.endswith(f"::{item.name}"):
            item._id = item.parent.id.child(item.name)
    yield
    items.sort(key=_dispatch_order)


def pytest_configure(config: pytest.Config) -> None:
    """Load the suite's Hypothesis profile unless the command line names another."""
    if not config.getoption("hypothesis_profile", default=None):
        settings.load_profile("suite")
