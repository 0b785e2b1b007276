"""Object storage in an S3 bucket (``s3://bucket[/prefix]``)."""

import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from botocore.exceptions import BotoCoreError, ClientError

from sharer.storage import port
from sharer.storage.port import (
    NewObject,
    ObjectNotFound,
    Storage,
    StorageUnavailable,
    StoredObject,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import (
        ListObjectsV2RequestTypeDef,
        ObjectIdentifierTypeDef,
        PutObjectRequestTypeDef,
    )

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
# A conditional write that lost: the key exists (412), or another conditional write to it
# was in flight at the same moment (409), which S3 says to settle by trying again; the
# retry would find the winner's object, so both mean "someone else created it".
_CREATE_LOST_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})
# S3's limit on keys in one DeleteObjects request.
_MAX_DELETE_OBJECTS = 1000
# S3's largest page of ListObjectsV2.
_MAX_LIST_KEYS = 1000


class _AccessDenied(StorageUnavailable):
    """S3 refused the request (403): a real refusal, or a missing key it will not name."""


class S3Storage(Storage):
    """Objects in ``bucket`` under ``prefix``; S3 makes each put atomic.

    ``put_all`` sends its puts at once, up to ``parallel_puts`` at a time, so storing an
    original with its status (or three thumbnails) waits one round trip, not one each;
    the client's connection pool must hold that many per calling thread.
    """

    def __init__(
        self, client: "S3Client", bucket: str, prefix: str = "", *, parallel_puts: int = 4
    ) -> None:
        if parallel_puts < 1:
            raise ValueError("parallel_puts must be at least 1")
        self._client = client
        self._bucket = bucket
        stripped = prefix.strip("/")
        self._prefix = f"{stripped}/" if stripped else ""
        self._parallel_puts = parallel_puts
        # Made on first use in each process: a pool's threads do not survive a fork.
        self._pool_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0

    def put(self, key: str, body: bytes, content_type: str, *, immutable: bool = True) -> None:
        """Store the object with its Content-Type (and year-long Cache-Control if immutable)."""
        self._put(NewObject(key, body, content_type, immutable))

    def _put(self, item: NewObject) -> None:
        request: PutObjectRequestTypeDef = {
            "Bucket": self._bucket,
            "Key": self._object_key(item.key),
            "Body": item.body,
            "ContentType": item.content_type,
        }
        if item.immutable:
            request["CacheControl"] = port.IMMUTABLE_CACHE_CONTROL
        if item.tags:
            request["Tagging"] = urlencode(item.tags)
        with self._errors("put", item.key):
            self._client.put_object(**request)

    def put_new(self, key: str, body: bytes, content_type: str) -> None:
        """PutObject with ``If-None-Match: *`` (S3's conditional write): S3 itself refuses
        the second creator, so servers need no lock between them."""
        try:
            with self._errors("create", key):
                self._client.put_object(
                    Bucket=self._bucket,
                    Key=self._object_key(key),
                    Body=body,
                    ContentType=content_type,
                    IfNoneMatch="*",
                )
        except StorageUnavailable as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and _error_code(cause) in _CREATE_LOST_CODES:
                raise port.ObjectExists(key) from cause
            raise

    def put_all(self, objects: Sequence[NewObject]) -> None:
        """``put`` every object concurrently; returns once all are stored, else raises
        the first failure (in the objects' order) after every put has ended."""
        for item in objects:  # a refused key stops them all before anything is sent
            self._object_key(item.key)
        if not objects:
            return
        # The calling thread does the first put itself, so a pair needs one pool thread.
        pool = self._executor()
        others = [pool.submit(self._put, item) for item in objects[1:]]
        try:
            self._put(objects[0])
        finally:
            wait(others)  # whatever happens, no put is still running once this ends
        for future in others:
            error = future.exception()
            if error is not None:
                raise error

    def get(self, key: str) -> StoredObject:
        """Fetch the object; ``ObjectNotFound`` if there is none.

        S3 answers a GET of a missing key with 403 to a role that may not list the whole
        bucket (ours may list a few prefixes only), so a 403 is followed by the key's own
        listing (``exists``) to tell a missing object from a forbidden one.
        """
        try:
            return self._get(key)
        except _AccessDenied:
            if not self.exists(key):
                raise ObjectNotFound(key) from None
            raise

    def _get(self, key: str) -> StoredObject:
        with self._errors("get", key):
            response = self._client.get_object(Bucket=self._bucket, Key=self._object_key(key))
            with response["Body"] as stream:
                body = stream.read()
            return StoredObject(
                body=body,
                content_type=response.get("ContentType", "application/octet-stream"),
                etag=response["ETag"],
                cache_control=response.get("CacheControl"),
            )

    def exists(self, key: str) -> bool:
        """ListObjectsV2 of the key's own name (strongly consistent, like a GET): needs
        s3:ListBucket for that prefix only, where a GET's 404 needs it for the bucket."""
        name = self._object_key(key)
        with self._errors("exists", key):
            page = self._client.list_objects_v2(Bucket=self._bucket, Prefix=name, MaxKeys=1)
        return any(item["Key"] == name for item in page.get("Contents", []))

    def delete(self, key: str) -> None:
        """Remove the object; S3 itself treats a missing key as success."""
        with self._errors("delete", key):
            self._client.delete_object(Bucket=self._bucket, Key=self._object_key(key))

    def delete_all(self, keys: Sequence[str]) -> None:
        """Remove the objects in one DeleteObjects request (an image has a handful)."""
        if not keys:
            return
        if len(keys) > _MAX_DELETE_OBJECTS:
            raise ValueError(f"at most {_MAX_DELETE_OBJECTS} keys per delete_all")
        objects: list[ObjectIdentifierTypeDef] = [{"Key": self._object_key(k)} for k in keys]
        with self._errors("delete", ", ".join(keys)):
            response = self._client.delete_objects(
                Bucket=self._bucket, Delete={"Objects": objects, "Quiet": True}
            )
        # DeleteObjects answers 200 and lists the keys it could not remove, if any.
        errors = response.get("Errors", [])
        if errors:
            failed = ", ".join(f"{e.get('Key')}: {e.get('Code')}" for e in errors)
            raise StorageUnavailable(f"S3 delete in s3://{self._bucket} failed for {failed}")

    def list_keys(self, prefix: str, *, limit: int, start_after: str = "") -> list[port.ListedKey]:
        """ListObjectsV2 pages (with ``/`` as delimiter) until ``limit`` keys."""
        port.validate_prefix(prefix)
        listed: list[port.ListedKey] = []
        request: ListObjectsV2RequestTypeDef = {
            "Bucket": self._bucket,
            "Prefix": self._prefix + prefix,
            "Delimiter": "/",
        }
        if start_after:
            request["StartAfter"] = self._prefix + start_after
        with self._errors("list", prefix):
            while len(listed) < limit:
                request["MaxKeys"] = min(limit - len(listed), _MAX_LIST_KEYS)
                page = self._client.list_objects_v2(**request)
                listed += [
                    port.ListedKey(
                        item["Key"].removeprefix(self._prefix), item["LastModified"].timestamp()
                    )
                    for item in page.get("Contents", [])
                ]
                if not page.get("IsTruncated"):
                    break
                request["ContinuationToken"] = page["NextContinuationToken"]
        return listed[:limit]

    def check(self) -> None:
        """The bucket exists and our credentials may use it."""
        with self._errors("check", ""):
            self._client.get_bucket_location(Bucket=self._bucket)

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = ThreadPoolExecutor(self._parallel_puts, thread_name_prefix="s3-put")
                self._pool_pid = os.getpid()
            return self._pool

    def _object_key(self, key: str) -> str:
        port.validate_key(key)
        return self._prefix + key

    @contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        where = f"s3://{self._bucket}/{self._prefix}{key}"
        try:
            yield
        except ClientError as exc:
            code = _error_code(exc)
            if key and code in _NOT_FOUND_CODES:
                raise ObjectNotFound(key) from exc
            if code == "AccessDenied":
                raise _AccessDenied(f"S3 {action} {where} failed: {code}") from exc
            raise StorageUnavailable(f"S3 {action} {where} failed: {code or exc}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"S3 {action} {where} failed: {exc}") from exc


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
