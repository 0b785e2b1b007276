"""Settings: defaults that run locally, and a clear error naming any bad variable."""

import os
import socket

import pytest

from sharer.formats import ACCEPTED
from sharer.settings import SettingsError, load_settings


def test_defaults_are_local_backends_under_the_data_dir() -> None:
    settings = load_settings({"SHARER_DATA_DIR": "/srv/sharer"})
    assert settings.storage_url == "file:///srv/sharer/media"
    assert settings.queue_url == "sqlite:///srv/sharer/queue.sqlite3"
    assert settings.max_upload_bytes == 1024 * 1024
    assert settings.max_pixels == 50_000_000
    assert settings.serves_media
    assert settings.public_base_url is None
    assert settings.cdn_distribution_id is None
    assert (settings.reconcile_stale_seconds, settings.reconcile_batch) == (900, 100)
    assert settings.worker_memory_budget_mb == 1280


def test_aws_backends() -> None:
    settings = load_settings(
        {
            "SHARER_STORAGE_URL": "s3://bucket/prefix",
            "SHARER_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/work",
            "SHARER_DEAD_LETTER_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/dead",
            "SHARER_PUBLIC_BASE_URL": "https://d123.cloudfront.net/",
            "SHARER_CDN_DISTRIBUTION_ID": "E2QWRUHAPOMQZL",
            "SHARER_RECONCILE_STALE_SECONDS": "60",
            "SHARER_RECONCILE_BATCH": "7",
            "AWS_REGION": "eu-west-1",
        }
    )
    assert not settings.serves_media
    assert settings.public_base_url == "https://d123.cloudfront.net"
    assert settings.aws_region == "eu-west-1"
    assert settings.cdn_distribution_id == "E2QWRUHAPOMQZL"
    assert (settings.reconcile_stale_seconds, settings.reconcile_batch) == (60, 7)


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
        ("SHARER_SITE_URL", "img.example.com"),
        ("SHARER_MAX_UPLOAD_BYTES", "lots"),
        ("SHARER_MAX_PIXELS", "0"),
        ("SHARER_MAX_RECEIVES", "-1"),
        ("SHARER_STRIP_ORIGINAL_METADATA", "maybe"),
        ("SHARER_WORKER_MEMORY_BUDGET_MB", "1.5G"),
        ("SHARER_LOG_LEVEL", "LOUD"),
        ("SHARER_ACCEPTED_FORMATS", "jpeg,tiff"),
        ("SHARER_ACCEPTED_FORMATS", " , "),
        ("SHARER_BIND", "8080"),
        ("SHARER_BIND", "0.0.0.0:99999"),
        ("SHARER_KEEPALIVE_SECONDS", "0"),
        ("SHARER_MAX_CONNECTIONS_PER_CLIENT", "-1"),
        ("SHARER_FORWARDED_HOPS", "two"),
        ("SHARER_CDN_DISTRIBUTION_ID", "d123.cloudfront.net"),
        ("SHARER_RECONCILE_STALE_SECONDS", "0"),
        ("SHARER_RECONCILE_BATCH", "many"),
        ("SHARER_MAX_WAIT_SECONDS", "-1"),
        ("SHARER_WAITERS_PER_PROCESS", "lots"),
        ("SHARER_RUNTIME_DIR", "/" + "d" * 100),
        ("SHARER_IDEMPOTENCY_TAKEOVER_SECONDS", "0"),
        ("SHARER_COSTLY_PROOFS_PER_PROCESS", "0"),
        ("SHARER_INSTANCE_METADATA_URL", "169.254.169.254"),
        ("SHARER_SPOT_NOTICE_POLL_SECONDS", "0"),
        ("SHARER_SPOT_NOTICE_POLL_SECONDS", "60"),
        ("SHARER_MAX_ANIMATION_PIXELS", "0"),
        ("SHARER_MAX_ANIMATION_FRAMES", "1"),
        ("SHARER_API_KEYS", "sometimes"),
        ("SHARER_QUOTA_STORE_URL", "redis://x"),
        ("SHARER_QUOTA_STORE_URL", "dynamodb://table/with/path"),
        ("SHARER_ADDRESS_UPLOADS_PER_MINUTE", "-1"),
        ("SHARER_ADDRESS_BYTES_PER_DAY", "1GB"),
        ("SHARER_METRICS_BIND", "9100"),
        # The public address's own port: nginx could not tell the two apart.
        ("SHARER_METRICS_BIND", "127.0.0.1:8080"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value})


def test_servers_sharing_a_data_directory_get_runtime_directories_of_their_own() -> None:
    first = load_settings({"SHARER_DATA_DIR": "/srv/sharer", "SHARER_BIND": "127.0.0.1:8081"})
    second = load_settings({"SHARER_DATA_DIR": "/srv/sharer", "SHARER_BIND": "127.0.0.1:8082"})
    assert (first.runtime_dir, second.runtime_dir) == (
        "/srv/sharer/run/8081",
        "/srv/sharer/run/8082",
    )


def test_sqs_needs_a_dead_letter_queue() -> None:
    with pytest.raises(SettingsError, match="SHARER_DEAD_LETTER_QUEUE_URL"):
        load_settings({"SHARER_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/work"})


def test_request_timeout_bounds_every_request() -> None:
    assert load_settings({}).request_timeout == 30
    assert load_settings({"SHARER_REQUEST_TIMEOUT": "5"}).request_timeout == 5
    with pytest.raises(SettingsError, match="SHARER_REQUEST_TIMEOUT"):
        load_settings({"SHARER_REQUEST_TIMEOUT": "soon"})


def test_a_wait_stays_well_inside_the_request_deadline() -> None:
    assert load_settings({}).max_wait_seconds == 10
    assert load_settings({"SHARER_REQUEST_TIMEOUT": "8"}).max_wait_seconds == 4
    with pytest.raises(SettingsError, match="SHARER_MAX_WAIT_SECONDS"):
        load_settings({"SHARER_REQUEST_TIMEOUT": "8", "SHARER_MAX_WAIT_SECONDS": "5"})
    assert load_settings({"SHARER_MAX_WAIT_SECONDS": "0"}).max_wait_seconds == 0


def test_a_takeover_waits_until_the_first_request_cannot_be_running() -> None:
    assert load_settings({}).idempotency_takeover_seconds == 120
    assert load_settings({"SHARER_REQUEST_TIMEOUT": "10"}).idempotency_takeover_seconds == 40
    with pytest.raises(SettingsError, match="SHARER_IDEMPOTENCY_TAKEOVER_SECONDS"):
        load_settings({"SHARER_REQUEST_TIMEOUT": "10", "SHARER_IDEMPOTENCY_TAKEOVER_SECONDS": "20"})
    settings = {"SHARER_REQUEST_TIMEOUT": "10", "SHARER_IDEMPOTENCY_TAKEOVER_SECONDS": "21"}
    assert load_settings(settings).idempotency_takeover_seconds == 21


def test_costly_proofs_default_to_the_cores_and_leave_a_thread_free() -> None:
    cores = os.cpu_count() or 1
    default = load_settings({"SHARER_SERVER_PROCESSES": "1", "SHARER_SERVER_THREADS": "64"})
    assert default.costly_proofs_per_process == cores
    assert load_settings({"SHARER_SERVER_THREADS": "2"}).costly_proofs_per_process == 1
    assert load_settings({"SHARER_SERVER_THREADS": "1"}).costly_proofs_per_process == 1
    waiters = {"SHARER_SERVER_THREADS": "4", "SHARER_COSTLY_PROOFS_PER_PROCESS": "1"}
    assert load_settings(waiters).costly_proof_waiters == 1  # two threads stay free
    crowded = {"SHARER_SERVER_THREADS": "4", "SHARER_COSTLY_PROOFS_PER_PROCESS": "3"}
    assert load_settings(crowded).costly_proof_waiters == 0
    many = {"SHARER_SERVER_THREADS": "4", "SHARER_COSTLY_PROOFS_PER_PROCESS": "5"}
    with pytest.raises(SettingsError, match="SHARER_COSTLY_PROOFS_PER_PROCESS=5"):
        load_settings(many)


def test_accepted_formats_default_to_all_and_can_be_narrowed() -> None:
    assert load_settings({}).accepted_formats == tuple(ACCEPTED.values())
    narrowed = load_settings({"SHARER_ACCEPTED_FORMATS": " HEIF, jpeg "}).accepted_formats
    assert narrowed == (ACCEPTED["JPEG"], ACCEPTED["HEIF"])


def test_connection_settings_default_to_a_lone_server() -> None:
    settings = load_settings({})
    assert settings.keepalive_seconds == 5
    assert settings.max_connections_per_client == 64
    assert settings.forwarded_hops == 0
    assert settings.strip_original_metadata
    behind_cloudfront = load_settings(
        {"SHARER_FORWARDED_HOPS": "2", "SHARER_MAX_CONNECTIONS_PER_CLIENT": "0"}
    )
    assert (behind_cloudfront.forwarded_hops, behind_cloudfront.max_connections_per_client) == (
        2,
        0,
    )


def test_site_url_defaults_to_the_bind_address() -> None:
    assert load_settings({}).site_url == "http://127.0.0.1:8080"
    assert load_settings({"SHARER_BIND": "127.0.0.1:9000"}).site_url == "http://127.0.0.1:9000"
    everywhere = load_settings({"SHARER_BIND": "0.0.0.0:9000"})
    assert everywhere.site_url == f"http://{socket.gethostname()}:9000"
    configured = load_settings({"SHARER_SITE_URL": "https://img.example.com/"})
    assert configured.site_url == "https://img.example.com"


def test_spot_notices_are_off_unless_the_metadata_endpoint_is_given() -> None:
    assert load_settings({}).instance_metadata_url is None
    on_ec2 = load_settings(
        {
            "SHARER_INSTANCE_METADATA_URL": "http://169.254.169.254",
            "SHARER_SPOT_NOTICE_POLL_SECONDS": "2.5",
        }
    )
    assert on_ec2.instance_metadata_url == "http://169.254.169.254"
    assert on_ec2.spot_notice_poll_seconds == 2.5


def test_animation_bounds_default_and_are_read() -> None:
    defaults = load_settings({})
    assert (defaults.max_animation_frames, defaults.max_animation_pixels) == (1000, 50_000_000)
    env = {"SHARER_MAX_ANIMATION_FRAMES": "2", "SHARER_MAX_ANIMATION_PIXELS": "1000"}
    chosen = load_settings(env)
    assert (chosen.max_animation_frames, chosen.max_animation_pixels) == (2, 1000)


def test_keys_quotas_and_metrics_are_off_by_default_and_local() -> None:
    settings = load_settings({"SHARER_DATA_DIR": "/srv/sharer"})
    assert settings.api_keys == "off"
    assert (settings.address_uploads_per_minute, settings.address_bytes_per_day) == (0, 0)
    assert settings.quota_store_url == "sqlite:///srv/sharer/quotas.sqlite3"
    assert settings.metrics_bind is None
    assert settings.worker_metrics_dir == "/srv/sharer/worker-metrics"
    assert load_settings({"SHARER_API_KEYS": "Required"}).api_keys == "required"
