"""The CDN: Varnish configured from the template's CloudFront distribution.

``vcl`` turns the distribution into VCL: behaviours by path pattern in CloudFront's order
(the first pattern that matches, else the default), the methods each allows (others get
CloudFront's 403), its cache policy's TTLs (a Cache-Control max-age clamped to min/max,
the default TTL without one, never cached when the policy's max is 0) and the error
caching TTLs. The bucket origin is reached through ``OriginAccess``, which signs each read
as the distribution's origin access would (SigV4), with the template's bucket policy
statement for CloudFront as its IAM policy. ``InvalidationBridge`` reads the
invalidations moto recorded and bans their paths in Varnish, as CloudFront would purge.
"""

import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import requests
from botocore.exceptions import BotoCoreError, ClientError

from sharer.thumbnail_variants import VARIANT_SOURCE_FORMAT, negotiable_size, variants_of
from support.rehearsal.aws import Account
from support.rehearsal.template import Behaviour, Distribution
from support.services import START_TIMEOUT, free_port, stop_processes, wait_until_listening

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# CloudFront caches these error codes for 10 s unless an error response says otherwise:
# docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/
# HTTPStatusCodes.html#HTTPStatusCodes-cached-errors
CACHED_ERRORS = (400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504)
DEFAULT_ERROR_CACHING_SECONDS = 10
POLL_SECONDS = 0.2


def path_regex(pattern: str) -> str:
    """A CloudFront path pattern as a regex over the request URL (``*`` any characters,
    ``?`` one, the leading slash optional in the pattern, the query string ignored)."""
    body = "".join(
        ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lstrip("/")
    )
    return f"^/{body}([?].*)?$"


def vcl(distribution: Distribution, *, balancer_port: int, bucket_port: int) -> str:
    """The distribution as Varnish configuration."""
    recv, response = [], []
    for index, behaviour in enumerate(distribution.behaviours):
        condition = (
            "true"
            if behaviour.path_pattern is None
            else f'req.url ~ "{path_regex(behaviour.path_pattern)}"'
        )
        keyword = "if" if index == 0 else "elsif"
        methods = "|".join(behaviour.allowed_methods)
        lookup = "pass" if behaviour.max_ttl == 0 else "hash"
        recv.append(
            f"    {keyword} ({condition}) {{\n"
            f'        set req.http.X-Behaviour = "{index}";\n'
            f"        set req.backend_hint = {behaviour.origin};\n"
            f"{_variant_rewrite(behaviour)}"
            f'        if (req.method !~ "^({methods})$") {{ return (synth(403)); }}\n'
            f"        return ({lookup});\n"
            "    }\n"
        )
        response.append(_ttl_rules(index, behaviour, distribution))
    return (
        "vcl 4.1;\n"
        f'backend balancer {{ .host = "127.0.0.1"; .port = "{balancer_port}";\n'
        f"    .first_byte_timeout = {distribution.read_timeout_seconds}s;\n"
        f"    .between_bytes_timeout = {distribution.read_timeout_seconds}s; }}\n"
        f'backend bucket {{ .host = "127.0.0.1"; .port = "{bucket_port}"; }}\n'
        "sub vcl_recv {\n"
        "    unset req.http.X-Behaviour;\n" + "".join(recv) + "}\n"
        # CloudFront answers 502 when it cannot reach or read the origin.
        "sub vcl_backend_error {\n"
        "    set beresp.status = 502;\n"
        "    set beresp.ttl = 0s;\n"
        "    return (deliver);\n"
        "}\n"
        "sub vcl_backend_response {\n"
        "    set beresp.grace = 0s;\n"
        "    set beresp.keep = 0s;\n" + "".join(response) + "}\n"
    )


def _variant_rewrite(behaviour: Behaviour) -> str:
    """VCL doing what the variants' CloudFront Function does (``cdk.variant_function``),
    by regex: the URI rewritten to the first variant the Accept header names itself with
    a quality above 0 (other parameters beside ``q`` are not read)."""
    size = None if behaviour.path_pattern is None else negotiable_size(behaviour.path_pattern)
    if not behaviour.viewer_request_function or size is None:
        return ""
    branches = [
        f'if (req.http.Accept ~ "(?i)(^|,)\\s*{re.escape(f.media_type)}\\s*'
        f'(;\\s*q\\s*=\\s*(1(\\.0*)?|0?\\.[0-9]*[1-9][0-9]*)\\s*)?(,|$)") {{ '
        f'set req.url = regsub(req.url, "\\.{VARIANT_SOURCE_FORMAT.extension}$", '
        f'".{f.extension}"); }}'
        for f in variants_of(VARIANT_SOURCE_FORMAT, size)
    ]
    return "        " + " els".join(branches) + "\n" if branches else ""


def _ttl_rules(index: int, behaviour: Behaviour, distribution: Distribution) -> str:
    errors = "".join(
        f"        if (beresp.status == {code}) {{ set beresp.ttl = "
        f"{distribution.error_caching_ttl.get(code, DEFAULT_ERROR_CACHING_SECONDS)}s; }}\n"
        for code in CACHED_ERRORS
    )
    low, high = f"{behaviour.min_ttl}s", f"{behaviour.max_ttl}s"
    return (
        f'    if (bereq.http.X-Behaviour == "{index}") {{\n'
        '        if (beresp.http.Cache-Control ~ "max-age") {\n'
        f"            if (beresp.ttl < {low}) {{ set beresp.ttl = {low}; }}\n"
        f"            if (beresp.ttl > {high}) {{ set beresp.ttl = {high}; }}\n"
        "        } else {\n"
        f"            set beresp.ttl = {behaviour.default_ttl}s;\n"
        "        }\n"
        f"{errors}"
        "        if (beresp.ttl <= 0s) { set beresp.uncacheable = true; set beresp.ttl = 0s; }\n"
        "        return (deliver);\n"
        "    }\n"
    )


class OriginAccess(ThreadingHTTPServer):
    """The bucket origin: GET and HEAD of ``bucket`` objects, signed as ``s3``'s caller."""

    daemon_threads = True

    def __init__(self, s3: "S3Client", bucket: str) -> None:
        super().__init__(("127.0.0.1", 0), _OriginAccessHandler)
        self.s3 = s3
        self.bucket = bucket

    @property
    def port(self) -> int:
        """Where Varnish reaches it."""
        return int(self.server_address[1])


class _OriginAccessHandler(BaseHTTPRequestHandler):
    server: OriginAccess

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def _answer(self, *, with_body: bool) -> None:
        key = self.path.split("?", 1)[0].lstrip("/")
        try:
            found = self.server.s3.get_object(Bucket=self.server.bucket, Key=key)
        except ClientError as error:
            code = int(error.response["ResponseMetadata"]["HTTPStatusCode"])
            self._status(code if code in (403, 404) else 502)
            return
        except BotoCoreError:
            self._status(504)
            return
        body = found["Body"].read()
        self.send_response(200)
        self.send_header("Content-Type", found.get("ContentType", "application/octet-stream"))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", found.get("ETag", ""))
        if "CacheControl" in found:
            self.send_header("Cache-Control", found["CacheControl"])
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def _status(self, code: int) -> None:
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: Varnish's own counters say what was fetched."""


@dataclass
class Cdn:
    """varnishd serving ``vcl`` on ``port``; ``ban`` purges by URL regex."""

    workdir: Path
    port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    process: "subprocess.Popen[bytes] | None" = None

    @property
    def base_url(self) -> str:
        """The distribution's address on this machine."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, configuration: str, *, keepalive_seconds: int) -> None:
        """Start varnishd in the foreground with ``configuration``."""
        (self.workdir / "cdn.vcl").write_text(configuration)
        secret = self.workdir / "secret"
        secret.write_text("rehearsal\n")
        log = (self.workdir / "varnish.log").open("ab")
        self.process = subprocess.Popen(
            [
                "varnishd", "-F", "-j", "none",
                "-n", str(self.workdir / "varnish"),
                "-a", f"127.0.0.1:{self.port}",
                "-T", f"127.0.0.1:{self.admin_port}",
                "-S", str(secret),
                "-f", str(self.workdir / "cdn.vcl"),
                "-s", "malloc,64m",
                "-p", f"backend_idle_timeout={keepalive_seconds}",
            ],
            stdout=log,
            stderr=log,
        )  # fmt: skip
        wait_until_listening(self.port, self.process, START_TIMEOUT)

    def stop(self) -> None:
        """Stop varnishd."""
        if self.process is not None:
            stop_processes([self.process])

    def ban(self, path: str) -> None:
        """Purge every cached URL that an invalidation path (``*`` wildcards) covers."""
        regex = "^" + "".join(_literal(c) for c in path)
        subprocess.run(
            [
                "varnishadm", "-T", f"127.0.0.1:{self.admin_port}",
                "-S", str(self.workdir / "secret"), "ban", "req.url", "~", regex,
            ],
            check=True,
            capture_output=True,
            timeout=10,
        )  # fmt: skip


# Characters of a URL path that stand for themselves in a regex; any other is put in a
# bracket (a backslash escape does not survive varnishadm's command line).
_PLAIN = frozenset("/_-~%=,:@!'&;")


def _literal(c: str) -> str:
    if c == "*":
        return ".*"
    if c.isalnum() or c in _PLAIN:
        return c
    return "." if c in "^\\" else f"[{c}]"


@dataclass
class InvalidationBridge:
    """Polls moto for new invalidations of ``distribution_id`` and bans their paths."""

    account: Account
    distribution_id: str
    cdn: Cdn
    purged: dict[str, float] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        """Until ``stop``: ban each new invalidation's paths, note when each was done."""
        seen: set[str] = set()
        while not self._stop.wait(POLL_SECONDS):
            try:
                recorded = self.account.recorded("cloudfront").get("Invalidation", [])
            except requests.RequestException:
                continue  # moto frozen by an outage scenario: try again next poll
            for invalidation in recorded:
                mine = f"/distribution/{self.distribution_id}/" in invalidation["location"]
                if invalidation["id"] in seen or not mine:
                    continue
                for path in invalidation["invalidation_batch"]["Paths"]["Items"]:
                    try:
                        self.cdn.ban(path)
                    except subprocess.CalledProcessError as error:
                        self.failed[path] = error.stderr.decode(errors="replace")
                        continue
                    self.purged[path] = time.monotonic()
                seen.add(invalidation["id"])

    def stop(self) -> None:
        """End ``run``."""
        self._stop.set()
