"""The operator's commands for the SQLite dead-letter queue (``sharer.queues.sqlite_admin``)."""

from pathlib import Path

import pytest

from sharer.queues.sqlite import SqliteQueue
from sharer.queues.sqlite_admin import main

IMAGE_ID = "AAAAAAAAAAAAAAAAAAAAAA"


@pytest.fixture
def queue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SqliteQueue:
    """The queue the commands find from the settings, holding two dead letters."""
    monkeypatch.setenv("SHARER_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SHARER_QUEUE_URL", raising=False)
    queue = SqliteQueue(tmp_path / "queue.sqlite3", visibility_timeout=30, max_receives=5)
    queue.send(f'{{"version": 1, "id": "{IMAGE_ID}"}}')
    queue.send("not json")
    for delivery, reason in zip(
        queue.receive(2, 0), ["the original image is missing", "unreadable"], strict=True
    ):
        queue.dead_letter(delivery, reason)
    return queue


def test_list_shows_id_image_and_reason(
    queue: SqliteQueue, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["list"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [(row[0], row[2], row[3], row[4]) for row in rows] == [
        ("1", "1", IMAGE_ID, "the original image is missing"),
        ("2", "1", "-", "unreadable"),
    ]


def test_redrive_by_id_puts_only_that_one_back(
    queue: SqliteQueue, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["redrive", "2"]) == 0
    assert capsys.readouterr().out.strip() == "redrove 1 message(s)"
    assert [d.id for d in queue.dead_letters()] == [1]
    (delivery,) = queue.receive(5, 0)
    assert delivery.body == "not json"
    assert delivery.receive_count == 1  # a fresh message, with every delivery again


def test_redrive_all_and_counts(queue: SqliteQueue, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["redrive", "--all"]) == 0
    assert main(["counts"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "redrove 2 message(s)",
        "visible 2\tin_flight 0\tdead 0",
    ]


def test_refuses_an_sqs_queue(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHARER_QUEUE_URL", "http://127.0.0.1:1/123456789012/work")
    monkeypatch.setenv("SHARER_DEAD_LETTER_QUEUE_URL", "http://127.0.0.1:1/123456789012/dead")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    assert main(["list"]) == 1
    assert "docs/operations.md" in capsys.readouterr().err
