"""Settings: defaults that run locally, and a clear error naming any bad variable."""

import pytest

from sharer.settings import SettingsError, load_settings


def test_defaults_are_local_backends_under_the_data_dir() -> None:
    settings = load_settings({"SHARER_DATA_DIR": "/srv/sharer"})
    assert settings.storage_url == "file:///srv/sharer/media"
    assert settings.queue_url == "sqlite:///srv/sharer/queue.sqlite3"
    assert settings.max_upload_bytes == 1024 * 1024
    assert settings.max_pixels == 50_000_000
    assert settings.serves_media
    assert settings.public_base_url is None
    assert settings.worker_memory_budget_mb == 1280


def test_aws_backends() -> None:
    settings = load_settings(
        {
            "SHARER_STORAGE_URL": "s3://bucket/prefix",
            "SHARER_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/work",
            "SHARER_DEAD_LETTER_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/dead",
            "SHARER_PUBLIC_BASE_URL": "https://d123.cloudfront.net/",
            "AWS_REGION": "eu-west-1",
        }
    )
    assert not settings.serves_media
    assert settings.public_base_url == "https://d123.cloudfront.net"
    assert settings.aws_region == "eu-west-1"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SHARER_STORAGE_URL", "ftp://x"),
        ("SHARER_STORAGE_URL", "s3://"),
        # file://host/dir would silently mean /dir on this machine.
        ("SHARER_STORAGE_URL", "file://otherhost/var/media"),
        ("SHARER_QUEUE_URL", "redis://x"),
        ("SHARER_QUEUE_URL", "sqlite://otherhost/queue.sqlite3"),
        ("SHARER_PUBLIC_BASE_URL", "cdn.example.com"),
        ("SHARER_MAX_UPLOAD_BYTES", "lots"),
        ("SHARER_MAX_PIXELS", "0"),
        ("SHARER_MAX_RECEIVES", "-1"),
        ("SHARER_STRIP_ORIGINAL_METADATA", "maybe"),
        ("SHARER_WORKER_MEMORY_BUDGET_MB", "1.5G"),
        ("SHARER_LOG_LEVEL", "LOUD"),
        ("SHARER_BIND", "8080"),
        ("SHARER_BIND", "0.0.0.0:99999"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value})


def test_sqs_needs_a_dead_letter_queue() -> None:
    with pytest.raises(SettingsError, match="SHARER_DEAD_LETTER_QUEUE_URL"):
        load_settings({"SHARER_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/work"})


def test_request_timeout_bounds_every_request() -> None:
    assert load_settings({}).request_timeout == 30
    assert load_settings({"SHARER_REQUEST_TIMEOUT": "5"}).request_timeout == 5
    with pytest.raises(SettingsError, match="SHARER_REQUEST_TIMEOUT"):
        load_settings({"SHARER_REQUEST_TIMEOUT": "soon"})
