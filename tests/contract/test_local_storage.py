"""What only LocalStorage promises: keys cannot escape the root, files stay tidy."""

import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from contract.cases import assert_refuses_key
from sharer.storage.local import LocalStorage
from sharer.storage.port import NewObject, StorageUnavailable

ESCAPES = [
    "",
    "/etc/passwd",
    "../outside.jpg",
    "images/../../outside.jpg",
    "images/..",
    "./images/a.jpg",
    "images//a.jpg",
    "images/a.jpg/",
    "images\\..\\outside.jpg",
    "images/a\x00.jpg",
    "images/.hidden",
    "images/a b.jpg",
    "images/" + "a" * 256,
]
WRITERS = 3
KEYS_PER_WRITER = 40


def all_files(root: Path) -> set[str]:
    """Every file under ``root``, as a relative path."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("key", ESCAPES)
def test_keys_that_could_escape_the_root_are_rejected_before_any_io(
    tmp_path: Path, key: str
) -> None:
    assert_refuses_key(LocalStorage(tmp_path / "media"), key)
    assert list(tmp_path.iterdir()) == []


def test_root_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="absolute"):
        LocalStorage(Path("relative/media"))


def test_objects_live_at_their_key_with_no_temp_files_left(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "media")
    keys = {"images/AAAA-_/original.png", "images/AAAA-_/small.webp", "status/AAAA-_.json"}
    for key in keys:
        storage.put(key, b"body", "image/webp")
        storage.put(key, b"body", "image/webp")

    assert all_files(tmp_path / "media") == keys


def test_failed_write_raises_unavailable_and_cleans_up(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "media")
    storage.put("images/x/small.jpg", b"thumb", "image/jpeg")

    # "images/x" is a directory, so no object can be renamed onto it.
    with pytest.raises(StorageUnavailable):
        storage.put("images/x", b"body", "image/jpeg")
    assert all_files(tmp_path / "media") == {"images/x/small.jpg"}


def test_a_failed_put_all_leaves_no_temporary_file(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "media")
    storage.put("images/x/small.jpg", b"thumb", "image/jpeg")
    objects = [
        NewObject("images/y/large.jpg", b"large", "image/jpeg"),
        NewObject("images/x", b"body", "image/jpeg"),  # a directory: cannot be replaced
        NewObject("images/y/medium.jpg", b"medium", "image/jpeg"),
    ]
    with pytest.raises(StorageUnavailable, match="images/x"):
        storage.put_all(objects)
    # What was renamed before the failure may stay (the port allows it); no temp file
    # does, and what was there before is untouched.
    files = all_files(tmp_path / "media")
    assert {"images/x/small.jpg"} <= files <= {"images/x/small.jpg", "images/y/large.jpg"}
    assert storage.get("images/x/small.jpg").body == b"thumb"


THUMBNAILS = ["large.jpg", "medium.jpg", "small.jpg"]


def recorded_syscalls(
    monkeypatch: pytest.MonkeyPatch, store: Callable[[list[NewObject]], None]
) -> list[tuple[str, str]]:
    """The fsyncs and renames (by file name) of ``store`` putting three thumbnails."""
    calls: list[tuple[str, str]] = []
    names: dict[int, str] = {}
    real_open, real_fsync, real_replace = os.open, os.fsync, os.replace

    def opening(path: str | Path, flags: int, mode: int = 0o777) -> int:
        descriptor = real_open(path, flags, mode)
        names[descriptor] = Path(path).name
        return descriptor

    def syncing(descriptor: int) -> None:
        calls.append(("fsync", names[descriptor]))
        real_fsync(descriptor)

    def renaming(source: Path, target: Path) -> None:
        calls.append(("rename", Path(target).name))
        real_replace(source, target)

    monkeypatch.setattr(os, "open", opening)
    monkeypatch.setattr(os, "fsync", syncing)
    monkeypatch.setattr(os, "replace", renaming)
    store([NewObject(f"images/x/{name}", b"t", "image/jpeg") for name in THUMBNAILS])
    monkeypatch.undo()
    return calls


def test_put_all_makes_every_file_durable_before_any_is_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = LocalStorage(tmp_path / "media")
    storage.put("images/x/original.jpg", b"original", "image/jpeg")

    calls = recorded_syscalls(monkeypatch, storage.put_all)

    kinds = [kind for kind, _ in calls]
    file_syncs = [name for kind, name in calls if kind == "fsync" and name.endswith(".tmp")]
    assert len(file_syncs) == 3
    assert kinds[:3] == ["fsync"] * 3  # every file is synced before any rename
    assert [name for kind, name in calls if kind == "rename"] == THUMBNAILS  # in order
    assert calls[-1] == ("fsync", "x")  # then the one directory, once
    assert kinds.count("fsync") == 4


def test_put_all_regenerable_shows_every_file_first_and_syncs_all_before_returning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = LocalStorage(tmp_path / "media")

    calls = recorded_syscalls(monkeypatch, storage.put_all_regenerable)

    kinds = [kind for kind, _ in calls]
    assert calls[:3] == [("rename", name) for name in THUMBNAILS]  # visible at once
    assert kinds[3:6] == ["fsync"] * 3  # then each file synced
    assert calls[-1] == ("fsync", "x")  # and the directory, before it returns
    assert kinds.count("fsync") == 4
    assert [storage.get(f"images/x/{name}").body for name in THUMBNAILS] == [b"t"] * 3


def test_a_file_we_did_not_write_is_reported_not_served(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "media")
    (tmp_path / "media" / "images").mkdir(parents=True)
    (tmp_path / "media" / "images" / "stray.jpg").write_bytes(b"\xff\xd8 plain jpeg")

    with pytest.raises(StorageUnavailable, match="not an object"):
        storage.get("images/stray.jpg")


def write_many(root: Path, writer: int) -> None:
    """Writer process: distinct keys spread over shared directories."""
    storage = LocalStorage(root)
    for n in range(KEYS_PER_WRITER):
        storage.put(f"images/dir{n % 5}/w{writer}-{n}.jpg", f"{writer}:{n}".encode(), "image/jpeg")


def test_processes_writing_distinct_keys_in_shared_directories(tmp_path: Path) -> None:
    root = tmp_path / "media"
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=write_many, args=(root, w)) for w in range(WRITERS)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=60)
        if process.is_alive():
            process.kill()
    exit_codes = [process.exitcode for process in writers]

    storage = LocalStorage(root)
    expected = {
        f"images/dir{n % 5}/w{w}-{n}.jpg": f"{w}:{n}".encode()
        for w in range(WRITERS)
        for n in range(KEYS_PER_WRITER)
    }
    assert exit_codes == [0] * WRITERS
    assert all_files(root) == set(expected)
    assert all(storage.get(key).body == body for key, body in expected.items())
