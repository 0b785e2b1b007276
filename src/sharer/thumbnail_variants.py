"""Variants: a still thumbnail again in formats that browsers take in fewer bytes.

The 202 names one URL per thumbnail, in the contract's format (``formats.thumbnail_format``).
Beside an opaque (JPEG) thumbnail the worker stores variants, at keys of the same scheme
(``key_scheme.variant_key``), and a request for the contract's URL gets the first
variant its ``Accept`` names (``preferred_variant``): locally ``server.media_route``
picks it, on AWS a CloudFront Function rewrites the URI (``cdk.variant_function``).

Only JPEG thumbnails get variants: an alpha thumbnail is WebP already (every browser
that names AVIF names WebP too), and an animated one must stay animated; the edge can
tell them apart by the URL's extension alone, without looking at the bucket.

Which sizes get which format was chosen on ``bench/variants.py`` (encode CPU against
bytes at the JPEG's SSIMULACRA2 score): see bench/results/variants.md.
"""

from collections.abc import Iterable

from sharer.formats import AVIF, JPEG, WEBP, ImageFormat
from sharer.thumbnail_sizes import THUMBNAIL_NAMES

# Most preferred first: a request gets the first of these its Accept names.
VARIANT_FORMATS: tuple[ImageFormat, ...] = (AVIF, WEBP)
# The contract format whose thumbnails get variants.
VARIANT_SOURCE_FORMAT = JPEG
# The thumbnail sizes (by name) that get each variant format. AVIF at every size: only
# then does a browser that names it get the bytes saving the issue asks for. No WebP:
# at the effort the worker can afford it saves too little, for the few browsers that
# name WebP but not AVIF, to pay for its encodes and its three more stored objects; a
# size named here is all it takes to make it (bench/results/variants.md).
VARIANT_SIZES: dict[str, frozenset[str]] = {
    AVIF.name: frozenset(THUMBNAIL_NAMES),
    WEBP.name: frozenset(),
}


def variants_of(contract_format: ImageFormat, size_name: str) -> tuple[ImageFormat, ...]:
    """The variant formats made beside the ``size_name`` thumbnail in ``contract_format``,
    most preferred first."""
    if contract_format is not VARIANT_SOURCE_FORMAT:
        return ()
    return tuple(f for f in VARIANT_FORMATS if size_name in VARIANT_SIZES[f.name])


def negotiable_size(key: str) -> str | None:
    """The thumbnail size (by name) when ``key`` is a thumbnail's key in the contract
    format that gets variants (``images/<id>/<size>.jpg``); None for any other key."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != "images":
        return None
    name, _, extension = parts[2].rpartition(".")
    if extension != VARIANT_SOURCE_FORMAT.extension:
        return None
    return name if variants_of(VARIANT_SOURCE_FORMAT, name) else None


def preferred_variant(
    contract_format: ImageFormat, size_name: str, named: Iterable[str]
) -> ImageFormat | None:
    """The variant to serve to a request whose Accept names the media types ``named``
    (explicitly, with a quality above 0: ``*/*`` and ``image/*`` name none, so a client
    that asks for nothing in particular gets the contract's format); None for the
    contract's own format."""
    wanted = {media_type.lower() for media_type in named}
    return next(
        (f for f in variants_of(contract_format, size_name) if f.media_type in wanted), None
    )
