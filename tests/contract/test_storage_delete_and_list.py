"""``delete_all`` and ``list_keys`` on every Storage adapter (LocalStorage, S3 on moto)
and on the unit tests' FakeStorage."""

import time

import pytest

from contract.cases import StorageCase
from sharer.storage.port import ObjectNotFound, StorageUnavailable

IMAGE = "images/AAAAAAAAAAAAAAAAAAAAAA"


def test_delete_all_removes_every_key_and_ignores_missing_ones(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    keys = [f"{IMAGE}/{name}.jpg" for name in ("original", "small", "medium", "large")]
    for key in keys:
        storage.put(key, key.encode(), "image/jpeg")
    storage.put("images/BBBBBBBBBBBBBBBBBBBBBB/small.jpg", b"other", "image/jpeg")
    storage.delete_all([*keys, f"{IMAGE}/never-written.jpg"])
    for key in keys:
        with pytest.raises(ObjectNotFound):
            storage.get(key)
    assert storage.get("images/BBBBBBBBBBBBBBBBBBBBBB/small.jpg").body == b"other"
    storage.delete_all([])


def test_delete_all_refuses_a_bad_key_before_removing_anything(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    storage.put(f"{IMAGE}/small.jpg", b"kept", "image/jpeg")
    with pytest.raises(ValueError, match="bad segment"):
        storage.delete_all([f"{IMAGE}/small.jpg", "images/../escape"])
    assert storage.get(f"{IMAGE}/small.jpg").body == b"kept"


def test_list_keys_gives_the_first_keys_of_the_prefix_in_order_with_times(
    storage_case: StorageCase,
) -> None:
    storage = storage_case.storage
    before = time.time() - 5
    names = ["c", "a", "e", "b", "d"]
    for name in names:
        storage.put(f"pending/{name}.json", b"{}", "application/json", immutable=False)
    storage.put("pendingx/z.json", b"{}", "application/json")
    storage.put("pending/deeper/y.json", b"{}", "application/json")
    listed = storage.list_keys("pending/", limit=3)
    assert [item.key for item in listed] == ["pending/a.json", "pending/b.json", "pending/c.json"]
    assert all(before <= item.modified <= time.time() + 5 for item in listed)
    everything = storage.list_keys("pending/", limit=100)
    assert [item.key for item in everything] == [f"pending/{n}.json" for n in sorted(names)]
    assert storage.list_keys("nothing-here/", limit=10) == []
    after = storage.list_keys("pending/", limit=2, start_after="pending/b.json")
    assert [item.key for item in after] == ["pending/c.json", "pending/d.json"]
    assert storage.list_keys("pending/", limit=2, start_after="pending/e.json") == []


def test_list_keys_refuses_a_prefix_that_is_not_a_folder(storage_case: StorageCase) -> None:
    with pytest.raises(ValueError, match="end with"):
        storage_case.storage.list_keys("pending", limit=1)
    with pytest.raises(ValueError, match="bad segment"):
        storage_case.storage.list_keys("../", limit=1)


def test_an_unreachable_store_fails_listing(storage_case: StorageCase) -> None:
    with pytest.raises(StorageUnavailable):
        storage_case.broken().list_keys("pending/", limit=1)


def test_exists_tells_present_from_missing_keys(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    storage.put("deleted/AAAAAAAAAAAAAAAAAAAAAA.json", b"{}", "application/json", immutable=False)
    storage.put("deleted/AAAAAAAAAAAAAAAAAAAAAA.json.other", b"{}", "application/json")
    assert storage.exists("deleted/AAAAAAAAAAAAAAAAAAAAAA.json")
    assert not storage.exists("deleted/AAAAAAAAAAAAAAAAAAAAAA.jso")
    assert not storage.exists("deleted/BBBBBBBBBBBBBBBBBBBBBB.json")
    storage.delete("deleted/AAAAAAAAAAAAAAAAAAAAAA.json")
    assert not storage.exists("deleted/AAAAAAAAAAAAAAAAAAAAAA.json")
