"""What the API key store and the quota counters must do, run against SQLite and against
DynamoDB on moto's server (a separate process, reached over HTTP as on AWS)."""

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

from sharer.api_keys import ApiKey, ApiKeyError, ApiKeys, created_key, key_digest
from sharer.backends import open_api_keys, open_quota_counters
from sharer.quota_counters import Charge, QuotaCounters
from sharer.settings import CommonSettings
from support.quota_store import create_quota_table
from support.services import FAKE_AWS_CREDENTIALS, moto_server

LATER = int(time.time()) + 3600


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One moto server for the module's DynamoDB cases."""
    with moto_server(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


@pytest.fixture(params=["sqlite", "dynamodb"])
def store_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """CommonSettings naming a fresh store of each kind."""
    if request.param == "sqlite":
        yield {"SHARER_QUOTA_STORE_URL": f"sqlite://{tmp_path}/quotas.sqlite3"}
        return
    endpoint = request.getfixturevalue("moto_endpoint")
    table = f"quotas-{tmp_path.name}"[:200]
    create_quota_table(endpoint, table)
    env = FAKE_AWS_CREDENTIALS | {
        "SHARER_QUOTA_STORE_URL": f"dynamodb://{table}",
        "SHARER_AWS_ENDPOINT_URL": endpoint,
    }
    with mock.patch.dict(os.environ, FAKE_AWS_CREDENTIALS):
        yield env


@pytest.fixture
def api_keys(store_env: dict[str, str]) -> ApiKeys:
    return open_api_keys(CommonSettings.from_env(store_env))


@pytest.fixture
def counters(store_env: dict[str, str]) -> QuotaCounters:
    return open_quota_counters(CommonSettings.from_env(store_env))


def test_a_created_key_is_found_by_its_digest_only(api_keys: ApiKeys) -> None:
    key = created_key(api_keys, "ci", uploads_per_minute=2, bytes_per_day=1000)

    found = api_keys.find(key_digest(key))
    assert found is not None
    assert (found.name, found.uploads_per_minute, found.bytes_per_day) == ("ci", 2, 1000)
    assert not found.revoked
    assert key not in repr(api_keys.list())
    assert api_keys.find(key_digest(key + "x")) is None


def test_names_are_unique(api_keys: ApiKeys) -> None:
    created_key(api_keys, "ci", uploads_per_minute=1, bytes_per_day=1)
    with pytest.raises(ApiKeyError, match="exists"):
        created_key(api_keys, "ci", uploads_per_minute=1, bytes_per_day=1)
    assert [record.name for record in api_keys.list()] == ["ci"]


def test_revoke_marks_the_key_and_lists_it(api_keys: ApiKeys) -> None:
    key = created_key(api_keys, "b", uploads_per_minute=1, bytes_per_day=1)
    created_key(api_keys, "a", uploads_per_minute=1, bytes_per_day=1)

    revoked = api_keys.revoke("b", at=123.0)

    assert revoked.revoked_at == 123.0
    found = api_keys.find(key_digest(key))
    assert found is not None
    assert found.revoked
    listed: list[ApiKey] = api_keys.list()
    assert [(r.name, r.revoked) for r in listed] == [("a", False), ("b", True)]
    with pytest.raises(ApiKeyError, match="no key"):
        api_keys.revoke("nobody", at=1.0)


def test_charges_stop_at_the_limit(counters: QuotaCounters) -> None:
    uploads = Charge("k|uploads|1", amount=1, limit=2, expires_at=LATER)

    assert [counters.charge([uploads]).admitted for _ in range(3)] == [True, True, False]
    assert counters.peek(["k|uploads|1", "never"]) == (2, 0)


def test_a_refused_charge_charges_nothing(counters: QuotaCounters) -> None:
    uploads = Charge("k|uploads|1", amount=1, limit=5, expires_at=LATER)
    small = Charge("k|bytes|1", amount=600, limit=1000, expires_at=LATER)

    first = counters.charge([uploads, small])
    second = counters.charge([uploads, small])

    assert (first.admitted, first.used) == (True, (1, 600))
    assert (second.admitted, second.used) == (False, (1, 600))
    assert counters.peek(["k|uploads|1", "k|bytes|1"]) == (1, 600)
    too_big = Charge("k|bytes|1", amount=2000, limit=1000, expires_at=LATER)
    assert not counters.charge([uploads, too_big]).admitted
    assert counters.peek(["k|uploads|1"]) == (1,)


# DynamoDB applies each UpdateItem atomically, its condition included ("all of these
# operations are atomic": https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/DynamoDB_API.html);
# moto's threaded server evaluates the condition and applies the update without a lock,
# so a race against it tests moto, and admitted a fourth charge once under load.
MOTO_RACES = "moto's DynamoDB applies conditional updates without a lock (no atomicity to test)"


def test_racing_charges_admit_exactly_the_limit(
    counters: QuotaCounters, store_env: dict[str, str]
) -> None:
    if store_env["SHARER_QUOTA_STORE_URL"].startswith("dynamodb://"):
        pytest.skip(MOTO_RACES)
    charge = Charge("race|uploads|1", amount=1, limit=3, expires_at=LATER)
    outcomes: list[bool] = []
    lock = threading.Lock()

    def take() -> None:
        admitted = counters.charge([charge]).admitted
        with lock:
            outcomes.append(admitted)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(outcomes) == [False] * 5 + [True] * 3
    assert counters.peek(["race|uploads|1"]) == (3,)
