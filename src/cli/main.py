"""``sharer upload`` and ``sharer delete``: the command line's one wiring point.

Exit codes: 0 when everything asked for happened, 1 when some file was refused, missing
or failed, or a server's answer was malformed (or a delete was refused), 2 for a usage
error, a delete URL on another origin than the server, or a delete token that would
cross a non-loopback network in plain http (each allowed by its flag).
"""

import argparse
import ipaddress
import json
import math
import os
import re
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Lock
from typing import TextIO
from urllib.parse import urlsplit

from tqdm import tqdm

from cli.client import SharerClient, UploadResult
from cli.fitting import UploadLimits
from cli.retry import DEFAULT_ATTEMPTS, RetryPolicy
from cli.untrusted import printable

DEFAULT_SERVER = "http://127.0.0.1:8080/"
SERVER_VARIABLE = "SHARER_SERVER"
# The API key uploads carry on a server that takes keys; from the environment only, so it
# stays out of shell history and the process list.
API_KEY_VARIABLE = "SHARER_API_KEY"
# Status polling with --wait: quick first (thumbnails usually take well under a second),
# then backing off.
POLL_FIRST = 0.25
POLL_MAX = 5.0
POLL_GROWTH = 1.6
# Each poll asks the server to hold a pending answer this long at most (``Prefer: wait``),
# so most polls end the moment the image is ready; a server that holds none still works.
SERVER_WAIT_SECONDS = 10
_ID_IN_URL = re.compile(r"/(?:i|images)/([A-Za-z0-9_-]{22})(?:/|$)")
# A share page or a status resource is on the server itself; an image's own URL may be
# on the CDN, which takes no deletes.
_SERVER_PATH = re.compile(r"/(?:i|images)/[A-Za-z0-9_-]{22}/?")
_BARE_ID = re.compile(r"[A-Za-z0-9_-]{22}")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> int:
    """Run ``sharer`` with ``argv`` (the process's by default); the exit code."""
    env = dict(os.environ) if environ is None else environ
    args = parser(env).parse_args(argv)
    policy = RetryPolicy(attempts=args.attempts)
    client = SharerClient(
        args.server, policy, api_key=env.get(API_KEY_VARIABLE, "").strip() or None
    )
    if args.command == "upload":
        return upload_command(client, args, sys.stdout, sys.stderr)
    return delete_command(client, args, sys.stdout)


def parser(env: dict[str, str]) -> argparse.ArgumentParser:
    """The command line; the server defaults to ``SHARER_SERVER``."""
    top = argparse.ArgumentParser(prog="sharer", description="Share images with a server.")
    commands = top.add_subparsers(dest="command", required=True)
    server_help = f"the server (default: ${SERVER_VARIABLE}, else {DEFAULT_SERVER})"
    server = env.get(SERVER_VARIABLE, "").strip() or DEFAULT_SERVER

    upload = commands.add_parser(
        "upload",
        help="upload image files",
        epilog=f"On a server that takes API keys, set ${API_KEY_VARIABLE} to yours.",
    )
    upload.add_argument("files", nargs="+", metavar="FILE", help="image files to upload")
    upload.add_argument("--server", default=server, type=_http_url, help=server_help)
    upload.add_argument("--wait", action="store_true", help="return once every image is ready")
    upload.add_argument(
        "--timeout", type=_positive_float, default=120.0, help="seconds --wait waits (120)"
    )
    upload.add_argument("--json", action="store_true", help="one JSON object per line")
    upload.add_argument(
        "--description",
        help="what the image shows, for its share page's alt text (the same for every FILE)",
    )
    upload.add_argument(
        "--fit",
        action="store_true",
        help="make a photo over the server's limit fit it: upright, scaled down, "
        "re-encoded without metadata (no location)",
    )
    upload.add_argument("--concurrency", type=_positive_int, default=4, help="uploads at once (4)")
    upload.add_argument(
        "--attempts",
        type=_positive_int,
        default=DEFAULT_ATTEMPTS,
        help=f"tries per request when busy ({DEFAULT_ATTEMPTS})",
    )

    delete = commands.add_parser("delete", help="delete an image you uploaded")
    delete.add_argument("url", metavar="URL", help="its share page, status URL or id")
    delete.add_argument("--token", required=True, help="the Delete-Token its upload gave")
    delete.add_argument("--server", default=server, type=_http_url, help=server_help)
    delete.add_argument(
        "--attempts",
        type=_positive_int,
        default=DEFAULT_ATTEMPTS,
        help=f"tries per request when busy ({DEFAULT_ATTEMPTS})",
    )
    delete.add_argument(
        "--any-origin",
        action="store_true",
        help="send the token to the URL's own server even when it is not --server",
    )
    delete.add_argument(
        "--allow-http",
        action="store_true",
        help="send the token over plain http to a server that is not on this machine",
    )
    return top


def upload_command(client: SharerClient, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Upload every file (``--concurrency`` at once) with one progress bar; print a
    line per file as it finishes."""
    paths = [Path(name) for name in args.files]
    limits: UploadLimits | None = None
    if args.fit:
        found = client.upload_limits()
        if isinstance(found, str):
            print(f"sharer: --fit needs the server's limits: {printable(found)}", file=err)
            return EXIT_FAILED
        limits = found
    total = sum(_size(path) for path in paths)
    lock = Lock()
    bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, file=err, disable=None)
    done = 0
    bar.set_postfix_str(f"0/{len(paths)} files")

    def progress(count: int) -> None:
        with lock:
            bar.update(count)

    def one(path: Path) -> UploadResult:
        nonlocal done, total
        result = client.upload(path, progress, description=args.description, limits=limits)
        with lock:
            if result.fitted is not None:  # the bar counted the file's own size
                bar.total = total = (
                    total + len(result.fitted.image.data) - result.fitted.original_bytes
                )
            done += 1
            bar.set_postfix_str(f"{done}/{len(paths)} files")
        return result

    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        results = list(pool.map(one, paths))
    bar.close()
    if args.wait:
        wait_until_done(client, [r for r in results if r.accepted], args.timeout)
    for result in results:
        print(json.dumps(_json_line(result)) if args.json else _text_line(result), file=out)
    everything_ready = all(r.accepted and (not args.wait or r.state == "ready") for r in results)
    return EXIT_OK if everything_ready else EXIT_FAILED


def wait_until_done(client: SharerClient, results: list[UploadResult], timeout: float) -> None:
    """Poll each accepted image's status (with backoff; each poll asks the server to hold
    a pending answer) until it is ready or failed, or ``timeout`` seconds pass; the state
    lands in each result (``timeout`` if not done)."""
    deadline = time.monotonic() + timeout
    delay = POLL_FIRST
    waiting = [r for r in results if r.status_url]
    while waiting and time.monotonic() < deadline:
        for result in waiting:
            assert result.status_url is not None
            left = math.floor(deadline - time.monotonic())
            state = client.state(result.status_url, wait=min(SERVER_WAIT_SECONDS, left))
            if state in ("ready", "failed"):
                result.state = state
        waiting = [r for r in waiting if r.state is None]
        if waiting:
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * POLL_GROWTH, POLL_MAX)
    for result in waiting:
        result.state = "timeout"
        result.error = f"not ready after {timeout:g} s"
    for result in results:
        if result.state == "failed":
            result.error = "accepted, but the server could not make its thumbnails"


def delete_command(client: SharerClient, args: argparse.Namespace, out: TextIO) -> int:
    """Delete one image by its URL (or id) with its token."""
    image_id, server = image_reference(args.url)
    if image_id is None:
        print(f"sharer: {args.url}: not a share URL, status URL or image id", file=sys.stderr)
        return EXIT_USAGE
    if server is not None and _origin(server) != _origin(args.server) and not args.any_origin:
        print(
            f"sharer: {args.url} is not on the server {args.server}; the delete token goes "
            f"only there: pass --server {server} (or --any-origin)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    target = server or args.server
    if urlsplit(target).scheme == "http" and not _is_loopback(target) and not args.allow_http:
        print(
            f"sharer: {target} is plain http: the delete token would cross the network "
            "readable; use https (or --allow-http)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    status, message = client.delete(image_id, args.token, server)
    print(f"{args.url}: {message}", file=out if status == 204 else sys.stderr)
    return EXIT_OK if status == 204 else EXIT_FAILED


def image_reference(text: str) -> tuple[str | None, str | None]:
    """(image id, the server it names) from a share or status URL; a bare id or an
    image's own URL names no server (the configured one is used)."""
    if _BARE_ID.fullmatch(text):
        return text, None
    parts = urlsplit(text)
    match = _ID_IN_URL.search(parts.path)
    if match is None:
        return None, None
    names_server = _SERVER_PATH.fullmatch(parts.path) and parts.scheme in ("http", "https")
    return match.group(1), f"{parts.scheme}://{parts.netloc}" if names_server else None


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``, the port filled in for http and https."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or ""), port or {"http": 80, "https": 443}.get(scheme)


def _is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine (a loopback name or address)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _json_line(result: UploadResult) -> dict[str, object]:
    line: dict[str, object] = {"file": result.file, "status": result.status}
    line |= result.urls
    if result.share:
        line["share"] = result.share
    if result.delete_token:
        line["delete_token"] = result.delete_token
    if result.fitted:
        image = result.fitted.image
        line["fitted"] = {
            "from_bytes": result.fitted.original_bytes,
            "bytes": len(image.data),
            "type": image.media_type,
            "width": image.width,
            "height": image.height,
        }
    if result.state:
        line["state"] = result.state
    if result.error:
        line["error"] = result.error
    return line


def _text_line(result: UploadResult) -> str:
    if not result.accepted:
        refused = f"refused ({result.status}): " if result.status not in (None, 202) else ""
        return f"{result.file}: {refused}{result.error}"
    if result.error:  # accepted, then failed or not ready in time (--wait)
        return f"{result.file}: {result.share}: {result.error}"
    token = f"  delete-token={result.delete_token}" if result.delete_token else ""
    return f"{result.file}: {_fitted_text(result)}{result.share}{token}"


def _fitted_text(result: UploadResult) -> str:
    if result.fitted is None:
        return ""
    image = result.fitted.image
    return (
        f"fitted {result.fitted.original_bytes} -> {len(image.data)} bytes "
        f"({image.width}x{image.height}), "
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size if path.is_file() else 0
    except OSError:
        return 0


def _http_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s) URL")
    return text


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value
