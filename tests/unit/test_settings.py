"""Each process's settings section: local defaults, and errors naming the bad variable."""

import dataclasses
import os
import re
import socket
from pathlib import Path

import pytest

from cli.main import API_KEY_VARIABLE, SERVER_VARIABLE
from sharer import settings as settings_module
from sharer.formats import ACCEPTED
from sharer.settings import (
    READ_ELSEWHERE,
    SECTIONS,
    CommonSettings,
    ReconcilerSettings,
    Section,
    ServerSettings,
    SettingsError,
    WorkerSettings,
    known_variables,
    settings_or_exit,
    unknown_variables,
)


def test_defaults_are_local_backends_under_the_data_dir() -> None:
    env = {"SHARER_DATA_DIR": "/srv/sharer"}
    common = CommonSettings.from_env(env)
    assert common.storage_url == "file:///srv/sharer/media"
    assert common.queue_url == "sqlite:///srv/sharer/queue.sqlite3"
    assert common.serves_media
    assert common.public_base_url is None
    assert common.cdn_distribution_id is None
    server = ServerSettings.from_env(env)
    # The server's common section is the same, but for the threads that call backends.
    assert dataclasses.replace(server.common, calling_threads=1) == common
    assert server.max_upload_bytes == 1024 * 1024
    assert server.max_pixels == 50_000_000
    reconciler = ReconcilerSettings.from_env(env)
    assert (reconciler.reconcile_stale_seconds, reconciler.reconcile_batch) == (900, 100)
    assert WorkerSettings.from_env(env).worker_memory_budget_mb == 1280


def test_aws_backends() -> None:
    settings = ReconcilerSettings.from_env(
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
    common = settings.common
    assert not common.serves_media
    assert common.public_base_url == "https://d123.cloudfront.net"
    assert common.aws_region == "eu-west-1"
    assert common.cdn_distribution_id == "E2QWRUHAPOMQZL"
    assert (settings.reconcile_stale_seconds, settings.reconcile_batch) == (60, 7)


@pytest.mark.parametrize(
    ("section", "name", "value"),
    [
        (CommonSettings, "SHARER_STORAGE_URL", "ftp://x"),
        (CommonSettings, "SHARER_STORAGE_URL", "s3://"),
        # file://host/dir would silently mean /dir on this machine.
        (CommonSettings, "SHARER_STORAGE_URL", "file://otherhost/var/media"),
        (CommonSettings, "SHARER_QUEUE_URL", "redis://x"),
        (CommonSettings, "SHARER_QUEUE_URL", "sqlite://otherhost/queue.sqlite3"),
        (CommonSettings, "SHARER_PUBLIC_BASE_URL", "cdn.example.com"),
        (CommonSettings, "SHARER_SITE_URL", "img.example.com"),
        (ServerSettings, "SHARER_MAX_UPLOAD_BYTES", "lots"),
        (ServerSettings, "SHARER_MAX_PIXELS", "0"),
        (CommonSettings, "SHARER_MAX_RECEIVES", "-1"),
        (ServerSettings, "SHARER_STRIP_ORIGINAL_METADATA", "maybe"),
        (WorkerSettings, "SHARER_WORKER_MEMORY_BUDGET_MB", "1.5G"),
        (CommonSettings, "SHARER_LOG_LEVEL", "LOUD"),
        (ServerSettings, "SHARER_ACCEPTED_FORMATS", "jpeg,tiff"),
        (ServerSettings, "SHARER_ACCEPTED_FORMATS", " , "),
        (ServerSettings, "SHARER_BIND", "8080"),
        (ServerSettings, "SHARER_BIND", "0.0.0.0:99999"),
        (ServerSettings, "SHARER_KEEPALIVE_SECONDS", "0"),
        (ServerSettings, "SHARER_MAX_CONNECTIONS_PER_CLIENT", "-1"),
        (ServerSettings, "SHARER_FORWARDED_HOPS", "two"),
        (CommonSettings, "SHARER_CDN_DISTRIBUTION_ID", "d123.cloudfront.net"),
        (ReconcilerSettings, "SHARER_RECONCILE_STALE_SECONDS", "0"),
        (ReconcilerSettings, "SHARER_RECONCILE_BATCH", "many"),
        (ServerSettings, "SHARER_MAX_WAIT_SECONDS", "-1"),
        (ServerSettings, "SHARER_WAITERS_PER_PROCESS", "lots"),
        (ServerSettings, "SHARER_RUNTIME_DIR", "/" + "d" * 100),
        (ServerSettings, "SHARER_IDEMPOTENCY_TAKEOVER_SECONDS", "0"),
        (ServerSettings, "SHARER_COSTLY_PROOFS_PER_PROCESS", "0"),
        (WorkerSettings, "SHARER_INSTANCE_METADATA_URL", "169.254.169.254"),
        (WorkerSettings, "SHARER_SPOT_NOTICE_POLL_SECONDS", "0"),
        (WorkerSettings, "SHARER_SPOT_NOTICE_POLL_SECONDS", "60"),
        (ServerSettings, "SHARER_MAX_ANIMATION_PIXELS", "0"),
        (ServerSettings, "SHARER_MAX_ANIMATION_FRAMES", "1"),
        (ServerSettings, "SHARER_API_KEYS", "sometimes"),
        (CommonSettings, "SHARER_QUOTA_STORE_URL", "redis://x"),
        (CommonSettings, "SHARER_QUOTA_STORE_URL", "dynamodb://table/with/path"),
        (ServerSettings, "SHARER_ADDRESS_UPLOADS_PER_MINUTE", "-1"),
        (ServerSettings, "SHARER_ADDRESS_BYTES_PER_DAY", "1GB"),
        (ServerSettings, "SHARER_METRICS_BIND", "9100"),
        # The public address's own port: nginx could not tell the two apart.
        (ServerSettings, "SHARER_METRICS_BIND", "127.0.0.1:8080"),
    ],
)
def test_bad_values_name_the_variable(section: type[Section], name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        section.from_env({name: value})


def test_servers_sharing_a_data_directory_get_runtime_directories_of_their_own() -> None:
    first = ServerSettings.from_env(
        {"SHARER_DATA_DIR": "/srv/sharer", "SHARER_BIND": "127.0.0.1:8081"}
    )
    second = ServerSettings.from_env(
        {"SHARER_DATA_DIR": "/srv/sharer", "SHARER_BIND": "127.0.0.1:8082"}
    )
    assert (first.runtime_dir, second.runtime_dir) == (
        "/srv/sharer/run/8081",
        "/srv/sharer/run/8082",
    )


def test_sqs_needs_a_dead_letter_queue() -> None:
    with pytest.raises(SettingsError, match="SHARER_DEAD_LETTER_QUEUE_URL"):
        CommonSettings.from_env({"SHARER_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/work"})


def test_request_timeout_bounds_every_request() -> None:
    assert ServerSettings.from_env({}).request_timeout == 30
    assert ServerSettings.from_env({"SHARER_REQUEST_TIMEOUT": "5"}).request_timeout == 5
    with pytest.raises(SettingsError, match="SHARER_REQUEST_TIMEOUT"):
        ServerSettings.from_env({"SHARER_REQUEST_TIMEOUT": "soon"})


def test_a_wait_stays_well_inside_the_request_deadline() -> None:
    assert ServerSettings.from_env({}).max_wait_seconds == 10
    assert ServerSettings.from_env({"SHARER_REQUEST_TIMEOUT": "8"}).max_wait_seconds == 4
    with pytest.raises(SettingsError, match="SHARER_MAX_WAIT_SECONDS"):
        ServerSettings.from_env({"SHARER_REQUEST_TIMEOUT": "8", "SHARER_MAX_WAIT_SECONDS": "5"})
    assert ServerSettings.from_env({"SHARER_MAX_WAIT_SECONDS": "0"}).max_wait_seconds == 0


def test_a_takeover_waits_until_the_first_request_cannot_be_running() -> None:
    assert ServerSettings.from_env({}).idempotency_takeover_seconds == 120
    assert (
        ServerSettings.from_env({"SHARER_REQUEST_TIMEOUT": "10"}).idempotency_takeover_seconds == 40
    )
    with pytest.raises(SettingsError, match="SHARER_IDEMPOTENCY_TAKEOVER_SECONDS"):
        ServerSettings.from_env(
            {"SHARER_REQUEST_TIMEOUT": "10", "SHARER_IDEMPOTENCY_TAKEOVER_SECONDS": "20"}
        )
    settings = {"SHARER_REQUEST_TIMEOUT": "10", "SHARER_IDEMPOTENCY_TAKEOVER_SECONDS": "21"}
    assert ServerSettings.from_env(settings).idempotency_takeover_seconds == 21


def test_costly_proofs_default_to_the_cores_and_leave_a_thread_free() -> None:
    cores = os.cpu_count() or 1
    default = ServerSettings.from_env(
        {"SHARER_SERVER_PROCESSES": "1", "SHARER_SERVER_THREADS": "64"}
    )
    assert default.costly_proofs_per_process == cores
    assert ServerSettings.from_env({"SHARER_SERVER_THREADS": "2"}).costly_proofs_per_process == 1
    assert ServerSettings.from_env({"SHARER_SERVER_THREADS": "1"}).costly_proofs_per_process == 1
    waiters = {"SHARER_SERVER_THREADS": "4", "SHARER_COSTLY_PROOFS_PER_PROCESS": "1"}
    assert ServerSettings.from_env(waiters).costly_proof_waiters == 1  # two threads stay free
    crowded = {"SHARER_SERVER_THREADS": "4", "SHARER_COSTLY_PROOFS_PER_PROCESS": "3"}
    assert ServerSettings.from_env(crowded).costly_proof_waiters == 0
    many = {"SHARER_SERVER_THREADS": "4", "SHARER_COSTLY_PROOFS_PER_PROCESS": "5"}
    with pytest.raises(SettingsError, match="SHARER_COSTLY_PROOFS_PER_PROCESS=5"):
        ServerSettings.from_env(many)


def test_accepted_formats_default_to_all_and_can_be_narrowed() -> None:
    assert ServerSettings.from_env({}).accepted_formats == tuple(ACCEPTED.values())
    narrowed = ServerSettings.from_env({"SHARER_ACCEPTED_FORMATS": " HEIF, jpeg "}).accepted_formats
    assert narrowed == (ACCEPTED["JPEG"], ACCEPTED["HEIF"])


def test_connection_settings_default_to_a_lone_server() -> None:
    settings = ServerSettings.from_env({})
    assert settings.keepalive_seconds == 5
    assert settings.max_connections_per_client == 64
    assert settings.forwarded_hops == 0
    assert settings.strip_original_metadata
    behind_cloudfront = ServerSettings.from_env(
        {"SHARER_FORWARDED_HOPS": "2", "SHARER_MAX_CONNECTIONS_PER_CLIENT": "0"}
    )
    assert (behind_cloudfront.forwarded_hops, behind_cloudfront.max_connections_per_client) == (
        2,
        0,
    )


def test_site_url_defaults_to_the_bind_address() -> None:
    assert CommonSettings.from_env({}).site_url == "http://127.0.0.1:8080"
    elsewhere = CommonSettings.from_env({"SHARER_BIND": "127.0.0.1:9000"})
    assert elsewhere.site_url == "http://127.0.0.1:9000"
    everywhere = CommonSettings.from_env({"SHARER_BIND": "0.0.0.0:9000"})
    assert everywhere.site_url == f"http://{socket.gethostname()}:9000"
    configured = CommonSettings.from_env({"SHARER_SITE_URL": "https://img.example.com/"})
    assert configured.site_url == "https://img.example.com"


def test_spot_notices_are_off_unless_the_metadata_endpoint_is_given() -> None:
    assert WorkerSettings.from_env({}).instance_metadata_url is None
    on_ec2 = WorkerSettings.from_env(
        {
            "SHARER_INSTANCE_METADATA_URL": "http://169.254.169.254",
            "SHARER_SPOT_NOTICE_POLL_SECONDS": "2.5",
        }
    )
    assert on_ec2.instance_metadata_url == "http://169.254.169.254"
    assert on_ec2.spot_notice_poll_seconds == 2.5


def test_animation_bounds_default_and_are_read() -> None:
    defaults = ServerSettings.from_env({})
    assert (defaults.max_animation_frames, defaults.max_animation_pixels) == (1000, 50_000_000)
    env = {"SHARER_MAX_ANIMATION_FRAMES": "2", "SHARER_MAX_ANIMATION_PIXELS": "1000"}
    chosen = ServerSettings.from_env(env)
    assert (chosen.max_animation_frames, chosen.max_animation_pixels) == (2, 1000)


def test_keys_quotas_and_metrics_are_off_by_default_and_local() -> None:
    settings = ServerSettings.from_env({"SHARER_DATA_DIR": "/srv/sharer"})
    assert settings.api_keys == "off"
    assert (settings.address_uploads_per_minute, settings.address_bytes_per_day) == (0, 0)
    assert settings.common.quota_store_url == "sqlite:///srv/sharer/quotas.sqlite3"
    assert settings.metrics_bind is None
    assert settings.common.worker_metrics_dir == "/srv/sharer/worker-metrics"
    assert ServerSettings.from_env({"SHARER_API_KEYS": "Required"}).api_keys == "required"


@pytest.mark.parametrize("section", SECTIONS)
def test_an_unknown_sharer_variable_is_refused_by_name(section: type[Section]) -> None:
    env = {"SHARER_WORKR_THREADS": "3", "SHARER_BIND": "127.0.0.1:9000", "PATH": "/bin"}
    with pytest.raises(SettingsError, match="unknown setting SHARER_WORKR_THREADS"):
        section.from_env(env)


def test_every_unknown_variable_is_named_at_once() -> None:
    env = {"SHARER_WORKR_THREADS": "3", "SHARER_STORAGE": "s3://x", "SHARER_LOG_LEVEL": "INFO"}
    assert unknown_variables(env) == ["SHARER_STORAGE", "SHARER_WORKR_THREADS"]


def test_a_process_starts_with_another_process_variables_beside_its_own() -> None:
    # One EnvironmentFile serves several units: the worker sees the server's settings.
    env = {"SHARER_BIND": "0.0.0.0:8080", "SHARER_WEBHOOK_RETRY_BASE_SECONDS": "5"}
    env |= dict.fromkeys(READ_ELSEWHERE, "x")
    assert WorkerSettings.from_env(env).worker_grace_seconds == 30
    assert ReconcilerSettings.from_env(env).reconcile_batch == 100


def test_the_known_names_are_every_name_the_sections_read() -> None:
    # Each section records what it reads; a name read only on some path would escape the
    # record, so every SHARER_ literal of settings.py must be in it.
    source = Path(settings_module.__file__).read_text(encoding="utf-8")
    literals = set(re.findall(r'"(SHARER_[A-Z0-9_]+)"', source))
    assert literals <= known_variables()
    assert {SERVER_VARIABLE, API_KEY_VARIABLE} <= set(READ_ELSEWHERE)


def test_an_entry_point_exits_naming_the_unknown_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHARER_WORKR_THREADS", "3")
    with pytest.raises(
        SystemExit, match="sharer-worker: bad setting: unknown setting SHARER_WORKR"
    ):
        settings_or_exit("sharer-worker", WorkerSettings)
