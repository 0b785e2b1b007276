"""API keys and quotas on ``POST /``, decided from the headers before the body is read.

Who uploads is the API key's name (``Authorization: Bearer <key>``) or, without one, the
client's address as the trusted proxies vouch for it (``SHARER_FORWARDED_HOPS``). Each
has two fixed-window quotas: uploads per minute and bytes per UTC day (a key's own,
from ``sharer-admin keys create``; an address's from the settings, 0 meaning none). An
upload is charged its declared length (nginx, in front everywhere, always passes one),
and the counters are shared by every server (``sharer.quota_counters``).

Every answer to ``POST /`` carries the quotas that apply as the IETF httpapi draft's
``RateLimit-Policy`` and ``RateLimit`` fields (draft-ietf-httpapi-ratelimit-headers-11,
sections 3 and 4): one item per quota, named ``"uploads"`` and ``"upload-bytes"``.
"""

import logging
import math
import time
from dataclasses import dataclass
from typing import cast

from flask import Flask, Response, current_app, g, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import TooManyRequests, Unauthorized

from server.bound_backends import current_settings
from server.request_log import current_client_address, request_id
from server.service_metrics import QUOTA_REFUSALS
from sharer.api_keys import ApiKey, ApiKeys, ApiKeyStoreUnavailable, key_digest
from sharer.quota_counters import Charge, QuotaCounters, QuotaStoreUnavailable
from sharer.settings import ServerSettings
from sharer.sqlite_store import SqliteStoreUnavailable

# A store that does not answer: the upload gets a 503 (server.errors).
STORE_DOWN = (ApiKeyStoreUnavailable, QuotaStoreUnavailable, SqliteStoreUnavailable)
log = logging.getLogger("sharer.server")

MINUTE = 60
DAY = 86400
BEARER = "bearer "
UPLOADS_POLICY = "uploads"
BYTES_POLICY = "upload-bytes"


@dataclass(frozen=True)
class QuotaPolicy:
    """One quota: ``limit`` units (requests, or content bytes) per ``window`` seconds."""

    name: str
    limit: int
    window: int
    unit: str

    def item(self) -> str:
        """The policy as a RateLimit-Policy list item."""
        unit = "" if self.unit == "requests" else f';qu="{self.unit}"'
        return f'"{self.name}";q={self.limit}{unit};w={self.window}'

    def window_start(self, now: float) -> int:
        """The start of the fixed window ``now`` falls in (Unix seconds, UTC)."""
        return int(now // self.window) * self.window


@dataclass(frozen=True)
class Uploader:
    """Who an upload is counted against, and the quotas that apply to them."""

    subject: str
    key_name: str | None
    policies: tuple[QuotaPolicy, ...]

    def counters(self, now: float) -> list[str]:
        """The names of the counters of the windows ``now`` falls in."""
        return [f"{self.subject}|{p.name}|{p.window_start(now)}" for p in self.policies]


@dataclass(frozen=True)
class QuotaState:
    """An uploader's quotas as they stand after this request, for the answer's fields."""

    uploader: Uploader
    used: tuple[int, ...]
    now: float

    def fields(self) -> dict[str, str]:
        """``RateLimit-Policy`` and ``RateLimit``; none when no quota applies."""
        if not self.uploader.policies:
            return {}
        policies = self.uploader.policies
        limits = [
            f'"{p.name}";r={max(0, p.limit - used)};t={self.reset_in(p)}'
            for p, used in zip(policies, self.used, strict=True)
        ]
        return {
            "RateLimit-Policy": ", ".join(p.item() for p in policies),
            "RateLimit": ", ".join(limits),
        }

    def reset_in(self, policy: QuotaPolicy) -> int:
        """Whole seconds until ``policy``'s window ends (at least 1)."""
        return max(1, math.ceil(policy.window_start(self.now) + policy.window - self.now))


class QuotaExceeded(TooManyRequests):
    """A 429: ``Retry-After`` says when every quota that refused has reset."""


def init_upload_quotas(app: Flask, api_keys: ApiKeys, counters: QuotaCounters) -> None:
    """Bind the key store and the counters to ``app``, and add the RateLimit fields to
    every answer of the upload endpoint."""
    app.extensions["sharer_quotas"] = (api_keys, counters)

    @app.after_request
    def _rate_limit_fields(response: Response) -> Response:
        if request.method != "POST" or request.endpoint != "upload.upload":
            return response
        response.headers.update(rate_limit_fields())
        return response


def rate_limit_fields() -> dict[str, str]:
    """The RateLimit fields of an answer to an upload: its quotas as its charge (or its
    check) left them, else as they stand; none if the store does not answer."""
    state: QuotaState | None = g.get("upload_quota")
    if state is None:
        try:
            state = _peeked_state()
        except STORE_DOWN as exc:
            # The answer stands (a 406, a 413...); only its quota fields are missing.
            log.warning(
                "rate-limit fields left out",
                extra={"request_id": request_id(), "error": repr(exc)},
            )
            return {}
    return state.fields()


def admit_upload() -> None:
    """Check the request's API key (401) and charge its quotas (429), from its headers
    alone; the state is kept for the answer's RateLimit fields."""
    uploader = _uploader(strict=True)
    now = time.time()
    policies = uploader.policies
    if not policies:
        g.upload_quota = QuotaState(uploader, (), now)
        return
    charges = [
        Charge(counter, amount, p.limit, p.window_start(now) + p.window)
        for p, counter, amount in zip(
            policies,
            uploader.counters(now),
            _amounts(policies, request.content_length),
            strict=True,
        )
    ]
    tally = _counters().charge(charges)
    state = QuotaState(uploader, tally.used, now)
    g.upload_quota = state
    if tally.admitted:
        return
    # What refused, as the counters stand now; a counter that fell back meanwhile (a
    # racing upload taken back on another server) leaves every quota to blame.
    _refuse(state, [c.amount for c in charges], blame_all=True)


def peek_upload(declared: int | None) -> None:
    """Check the request's API key (401) and its quotas (429) as :func:`admit_upload`
    does, for an upload declaring ``declared`` bytes (None: not known), but charge
    nothing: the upload itself is charged when the app handles it, so this only refuses
    early what its charge would refuse; the state is kept for the answer's fields."""
    state = g.upload_quota = _peeked_state(strict=True)
    _refuse(state, _amounts(state.uploader.policies, declared), blame_all=False)


def _amounts(policies: tuple[QuotaPolicy, ...], declared: int | None) -> list[int]:
    """What an upload of ``declared`` bytes costs each quota (an unknown length: 0)."""
    amounts = {UPLOADS_POLICY: 1, BYTES_POLICY: declared or 0}
    return [amounts[p.name] for p in policies]


def _refuse(state: QuotaState, amounts: list[int], *, blame_all: bool) -> None:
    """Raise the 429 if adding ``amounts`` takes any quota past its limit (``blame_all``:
    a charge refused them, so if none is past it now, every quota is to blame)."""
    policies = state.uploader.policies
    refused = [
        p
        for p, used, amount in zip(policies, state.used, amounts, strict=True)
        if used + amount > p.limit
    ]
    if not refused and blame_all:
        refused = list(policies)
    if not refused:
        return
    for policy in refused:
        QUOTA_REFUSALS.labels(policy=policy.name).inc()
    names = " and ".join(p.name for p in refused)
    raise QuotaExceeded(
        f"over your {names} quota; retry after the window resets",
        retry_after=max(state.reset_in(p) for p in refused),
    )


def _peeked_state(*, strict: bool = False) -> QuotaState:
    """The quotas as they stand, uncharged: for an answer given before they were charged
    (406, 401, 413...), or, ``strict`` (raising the 401s), for an early refusal."""
    uploader = _uploader(strict=strict)
    now = time.time()
    used = _counters().peek(uploader.counters(now)) if uploader.policies else ()
    return QuotaState(uploader, used, now)


def _uploader(*, strict: bool) -> Uploader:
    """The request's uploader; ``strict`` raises the 401s, otherwise a request without
    a usable key is counted by its address."""
    settings = current_settings()
    key = _presented_key() if settings.api_keys != "off" else None
    record = None if key is None else _api_keys().find(key_digest(key))
    if record is not None and not record.revoked:
        g.api_key_name = record.name
        return _key_uploader(record)
    if strict and (key is not None or settings.api_keys == "required"):
        reason = "that API key is unknown or revoked" if key else "send an API key"
        raise Unauthorized(
            f"{reason}: Authorization: Bearer <key> (an operator makes one with "
            "sharer-admin keys create)",
            www_authenticate=WWWAuthenticate("bearer", {"realm": "uploads"}),
        )
    return _address_uploader(settings)


def _presented_key() -> str | None:
    value = request.headers.get("Authorization", "")
    if value[: len(BEARER)].lower() != BEARER:
        return None
    return value[len(BEARER) :].strip() or None


def _key_uploader(record: ApiKey) -> Uploader:
    return Uploader(
        f"key:{record.name}",
        record.name,
        _policies(record.uploads_per_minute, record.bytes_per_day),
    )


def _address_uploader(settings: ServerSettings) -> Uploader:
    return Uploader(
        f"addr:{current_client_address()}",
        None,
        _policies(settings.address_uploads_per_minute, settings.address_bytes_per_day),
    )


def _policies(uploads_per_minute: int, bytes_per_day: int) -> tuple[QuotaPolicy, ...]:
    """The quotas with a limit (0 means none)."""
    every = (
        QuotaPolicy(UPLOADS_POLICY, uploads_per_minute, MINUTE, "requests"),
        QuotaPolicy(BYTES_POLICY, bytes_per_day, DAY, "content-bytes"),
    )
    return tuple(policy for policy in every if policy.limit > 0)


def _api_keys() -> ApiKeys:
    return cast(ApiKeys, current_app.extensions["sharer_quotas"][0])


def _counters() -> QuotaCounters:
    return cast(QuotaCounters, current_app.extensions["sharer_quotas"][1])
