"""The pages' static files under fingerprinted names, so browsers and CloudFront may
keep each one for a year: a changed file gets a new name, and the pages (never cached
for long) name the new one."""

import hashlib
import mimetypes
from dataclasses import dataclass
from functools import cache
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
# Enough hex digits that two versions of one file never share a name in practice.
_FINGERPRINT_DIGITS = 12


@dataclass(frozen=True)
class StaticAsset:
    """One static file: the name it is served under, its bytes and its media type."""

    served_name: str
    body: bytes
    mimetype: str


@cache
def static_assets() -> dict[str, StaticAsset]:
    """Every file of ``STATIC_DIR`` by its own name (read once per process)."""
    assets = {}
    for path in sorted(STATIC_DIR.iterdir()):
        if not path.is_file():
            continue
        body = path.read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:_FINGERPRINT_DIGITS]
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        assets[path.name] = StaticAsset(f"{path.stem}.{digest}{path.suffix}", body, mimetype)
    return assets


@cache
def assets_by_served_name() -> dict[str, StaticAsset]:
    """The same files, by the fingerprinted name a request asks for."""
    return {asset.served_name: asset for asset in static_assets().values()}
