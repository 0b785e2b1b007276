"""Issue 25: a waiting GET in a server process holding more than 1,024 descriptors.

The process is made to hold them from its start (``held_descriptors/sitecustomize.py``);
the wake-up socket a waiting request binds then has a number ``select.select`` refuses,
which answered 500.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from support import images
from support.client import upload
from support.services import Service, local_service

HELD = 1100
HOOK_DIR = Path(__file__).parent / "held_descriptors"


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The server alone (uploads stay pending), each process holding ``HELD`` descriptors."""
    yield from local_service(
        tmp_path_factory.mktemp("descriptors"),
        workers=0,
        env={
            "SHARER_SERVER_PROCESSES": "1",
            "SHARER_TEST_HELD_DESCRIPTORS": str(HELD),
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(HOOK_DIR), os.environ.get("PYTHONPATH")) if p
            ),
        },
    )


def _descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_a_wait_works_past_1024_descriptors(crowded: Service) -> None:
    assert crowded.server is not None
    assert _descriptors(crowded.server.pid) > HELD
    location = upload(crowded.base_url, images.jpeg()).headers["Location"]
    waited = requests.get(f"{crowded.base_url}{location}", headers={"Prefer": "wait=1"}, timeout=10)
    assert waited.status_code == 200, waited.text
    assert waited.json()["status"] == "pending"
    assert waited.headers["Preference-Applied"] == "wait=1"
