"""``sharer-admin keys`` on a SQLite store in ``tmp_path``: what it prints and its exits."""

from pathlib import Path

import pytest

from admin.main import main
from sharer.api_keys import key_digest
from sharer.backends import open_api_keys
from sharer.settings import CommonSettings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SHARER_DATA_DIR", str(tmp_path))
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_create_prints_the_key_once_and_stores_its_digest(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "keys", "create", "--name", "ci", "--uploads-per-minute", "7")

    assert code == 0
    key = out.strip()
    record = open_api_keys(CommonSettings.from_env({"SHARER_DATA_DIR": str(data_dir)})).find(
        key_digest(key)
    )
    assert record is not None
    assert (record.name, record.uploads_per_minute, record.bytes_per_day) == ("ci", 7, 1024**3)
    assert key.encode() not in (data_dir / "quotas.sqlite3").read_bytes()


def test_a_taken_name_or_an_unknown_one_exits_1_saying_why(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "keys", "create", "--name", "ci")

    assert run(capsys, "keys", "create", "--name", "ci")[::2] == (
        1,
        "sharer-admin: a key named 'ci' exists already\n",
    )
    assert run(capsys, "keys", "revoke", "nobody")[::2] == (
        1,
        "sharer-admin: no key named 'nobody'\n",
    )


@pytest.mark.parametrize(
    "arguments", [["--name", "two words"], ["--name", "a", "--bytes-per-day", "0"]]
)
def test_bad_arguments_are_refused_by_the_parser(
    data_dir: Path, capsys: pytest.CaptureFixture[str], arguments: list[str]
) -> None:
    code, _, err = run(capsys, "keys", "create", *arguments)

    assert code == 2
    assert "sharer-admin keys create: error" in err
