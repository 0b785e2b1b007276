"""The HTTP side of the CLI: upload one file, read an image's status, delete an image,
each retried by a ``RetryPolicy``."""

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from cli.fitting import CannotFit, UploadLimits, fit_image
from cli.fitting import Fitted as FittedImage
from cli.retry import RETRIED_STATUSES, UPLOAD_RETRIED_STATUSES, RetryPolicy
from cli.untrusted import (
    UntrustedAnswer,
    delete_token_of,
    image_id_of,
    printable,
    upload_limits_of,
    upload_urls,
)

# A connection that cannot be made in this long is reported (and retried).
CONNECT_TIMEOUT = 10.0
# How long we wait for an answer once the request is sent.
READ_TIMEOUT = 60.0
# Bytes handed to the socket at a time: small enough for a smooth progress bar.
SEND_BLOCK = 64 * 1024

Progress = Callable[[int], None]


@dataclass
class UploadResult:
    """What happened to one file: ``status`` is the last HTTP status (None when there
    was no answer or the file could not be read), ``error`` what went wrong."""

    file: str
    status: int | None = None
    urls: dict[str, str] = field(default_factory=dict)
    image_id: str | None = None
    status_url: str | None = None
    share: str | None = None
    delete_token: str | None = None
    error: str | None = None
    state: str | None = None
    fitted: "Fitted | None" = None  # with --fit, when the file was over the limit

    @property
    def accepted(self) -> bool:
        """The server answered 202 with everything a 202 promises."""
        return self.status == 202 and bool(self.urls)


@dataclass(frozen=True)
class Fitted:
    """A file sent fitted (``--fit``): its own size and what it was made into."""

    original_bytes: int
    image: FittedImage


class ProgressBody:
    """A request body read in blocks, reporting to ``progress`` the bytes of
    ``counted`` (a slice of the body: the file, not the form framing) as they are sent.

    ``__len__`` lets requests send a Content-Length (the server refuses oversized
    uploads from it before reading) instead of chunking.
    """

    def __init__(self, data: bytes, counted: slice, progress: Progress) -> None:
        self._data = data
        self._offset = 0
        self._counted = counted
        self._progress = progress
        self.reported = 0

    def __len__(self) -> int:
        return len(self._data)

    def read(self, size: int = -1) -> bytes:
        """The next block (requests and http.client call this)."""
        size = min(size if size > 0 else SEND_BLOCK, SEND_BLOCK)
        start = self._offset
        block = self._data[start : start + size]
        self._offset += len(block)
        overlap = min(self._offset, self._counted.stop) - max(start, self._counted.start)
        if overlap > 0:
            self.reported += overlap
            self._progress(overlap)
        return block


def multipart(
    field_name: str, filename: str, data: bytes, description: str | None = None
) -> tuple[bytes, str, bytes]:
    """(preamble, content type, epilogue) of a form with one file part around ``data``,
    after a ``description`` text field when one is given."""
    boundary = uuid.uuid4().hex
    safe_name = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
    text_field = (
        ""
        if description is None
        else (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="description"\r\n'
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{description}\r\n"
        )
    )
    head = (
        f"{text_field}--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field_name}"; filename="{safe_name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head, f"multipart/form-data; boundary={boundary}", tail


class SharerClient:
    """One server's API; safe to use from several threads (a session per thread)."""

    def __init__(self, server: str, policy: RetryPolicy, *, api_key: str | None = None) -> None:
        self.server = server.rstrip("/")
        self.policy = policy
        # Sent with uploads only: a delete is authorized by its delete token alone.
        self.api_key = api_key
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
        return session

    def _request(
        self,
        method: str,
        url: str,
        *,
        body: Callable[[], Any] | None = None,
        retried: frozenset[int] = RETRIED_STATUSES,
        **kwargs: Any,
    ) -> requests.Response | requests.RequestException:
        """``method url`` with retries; the last answer, or the last connection error.
        ``body`` makes a fresh request body for each attempt; ``retried`` are the
        statuses tried again."""
        tries = self.policy.tries(retried)
        while True:
            try:
                data = body() if body is not None else None
                response = self._session().request(
                    method, url, data=data, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), **kwargs
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                wait = tries.wait_after(None, None)
                if wait is None:
                    return exc
                time.sleep(wait)
                continue
            wait = tries.wait_after(response.status_code, response.headers.get("Retry-After"))
            if wait is None:
                return response
            time.sleep(wait)

    def upload(
        self,
        path: Path,
        progress: Progress,
        *,
        description: str | None = None,
        limits: UploadLimits | None = None,
    ) -> UploadResult:
        """POST ``path`` as the form field ``image`` (with ``description`` when given);
        ``progress`` gets bytes sent (a negative count takes back what a failed attempt
        had sent). With ``limits``, a file over ``limits.max_bytes`` is fitted to them
        first (``cli.fitting``) and ``result.fitted`` says to what.

        Every attempt for the file carries the same ``Idempotency-Key`` (a fresh UUID4 per
        file), so a retry after a lost connection or a timeout gets the first attempt's
        answer instead of making a second image. That replayed answer has no
        ``Delete-Token``: the server gave it only with the answer that was lost. The
        client's API key, if it has one, goes as ``Authorization: Bearer``."""
        result = UploadResult(file=str(path))
        try:
            data = path.read_bytes()
        except OSError as exc:
            result.error = _os_error_text(path, exc)
            return result
        name = path.name
        if limits is not None and len(data) > limits.max_bytes:
            try:
                fitted = fit_image(data, limits)
            except CannotFit as exc:
                result.error = f"over the limit of {limits.max_bytes} bytes, and {exc}"
                return result
            result.fitted = Fitted(len(data), fitted)
            data, name = fitted.data, f"{path.stem}.{fitted.extension}"
        head, content_type, tail = multipart("image", name, data, description)
        whole = head + data + tail
        bodies: list[ProgressBody] = []

        def fresh_body() -> ProgressBody:
            if bodies:  # a retry: take back what the failed attempt had counted
                progress(-bodies[-1].reported)
            bodies.append(ProgressBody(whole, slice(len(head), len(head) + len(data)), progress))
            return bodies[-1]

        answer = self._request(
            "POST",
            f"{self.server}/",
            body=fresh_body,
            retried=UPLOAD_RETRIED_STATUSES,
            headers={
                "Content-Type": content_type,
                "Accept": "application/json",
                "Idempotency-Key": f'"{uuid.uuid4()}"',
            }
            | ({} if self.api_key is None else {"Authorization": f"Bearer {self.api_key}"}),
        )
        if isinstance(answer, requests.RequestException):
            result.error = f"could not reach {self.server}: {_first_line(answer)}"
            return result
        result.status = answer.status_code
        document = _json(answer)
        if answer.status_code != 202:
            result.error = _error_text(answer, document)
            return result
        location = answer.headers.get("Location", "")
        try:
            urls = upload_urls(document)
            result.image_id = image_id_of(location)
            result.delete_token = delete_token_of(answer.headers.get("Delete-Token"))
        except UntrustedAnswer as exc:
            result.error = str(exc)
            return result
        result.urls = urls
        result.status_url = f"{self.server}/images/{result.image_id}"
        result.share = f"{self.server}/i/{result.image_id}"
        return result

    def upload_limits(self) -> UploadLimits | str:
        """The server's upload limit and media types, from its ``/openapi.json``; a
        message for a person when they cannot be read from it."""
        answer = self._request("GET", f"{self.server}/openapi.json")
        if isinstance(answer, requests.RequestException):
            return f"could not reach {self.server}: {_first_line(answer)}"
        try:
            return upload_limits_of(_json(answer))
        except UntrustedAnswer as exc:
            return str(exc)

    def state(self, status_url: str, wait: int = 0) -> str | None:
        """pending, ready or failed (None: no answer, or not a status); with ``wait``, the
        server may hold a pending answer up to that many seconds (``Prefer: wait``)."""
        headers = {"Accept": "application/json"}
        if wait > 0:
            headers["Prefer"] = f"wait={wait}"
        answer = self._request("GET", status_url, headers=headers)
        if isinstance(answer, requests.RequestException) or answer.status_code != 200:
            return None
        document = _json(answer)
        state = document.get("status") if isinstance(document, dict) else None
        return state if isinstance(state, str) else None

    def delete(
        self, image_id: str, token: str, server: str | None = None
    ) -> tuple[int | None, str]:
        """DELETE the image; (status, message for a person)."""
        base = (server or self.server).rstrip("/")
        answer = self._request(
            "DELETE",
            f"{base}/images/{image_id}",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        if isinstance(answer, requests.RequestException):
            return None, f"could not reach {base}: {_first_line(answer)}"
        if answer.status_code == 204:
            return 204, "deleted"
        return answer.status_code, _error_text(answer, _json(answer))


def _json(response: requests.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def _error_text(response: requests.Response, document: object) -> str:
    """The server's message for a person, cleaned of anything a terminal would obey."""
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        return printable(str(document["error"]))
    return printable(f"HTTP {response.status_code} {response.reason}")


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _os_error_text(path: Path, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    if isinstance(exc, PermissionError):
        return "not readable (permission denied)"
    return f"cannot be read: {exc.strerror or exc}"
