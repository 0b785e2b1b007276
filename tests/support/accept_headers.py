"""The Accept headers real clients send for an image, as the variant tests replay them.

Firefox's and Safari's from MDN's "List of default Accept values" (developer.mozilla.org/
en-US/docs/Web/HTTP/Guides/Content_negotiation/List_of_default_Accept_values), for an
<img> request. Chromium's is what Debian's Chromium 156 sends (JPEG XL first), checked
against the real browser by tests/pages/test_share_variants.py; MDN lists the same
without ``image/jxl`` for earlier versions.
"""

CHROMIUM = "image/jxl,image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
FIREFOX = "image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"
SAFARI = (
    "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,"
    "image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"
)
# Safari before AVIF (macOS 11 to 12): WebP, no AVIF.
SAFARI_WEBP_ONLY = "image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5"
CURL = "*/*"

# Client -> the variant media types its Accept names itself (not through a wildcard),
# in its header's order; a client gets the first variant made that it names, else JPEG.
NAMED_VARIANTS: dict[str, tuple[str, ...]] = {
    CHROMIUM: ("image/avif", "image/webp"),
    FIREFOX: ("image/avif", "image/webp"),
    SAFARI: ("image/webp", "image/avif"),
    SAFARI_WEBP_ONLY: ("image/webp",),
    CURL: (),
}


def expected_media_type(accept: str, made: tuple[str, ...]) -> str:
    """What the client sending ``accept`` must be served when the variants ``made`` (media
    types, most preferred first) exist: the first it names, else the JPEG."""
    return next((m for m in made if m in NAMED_VARIANTS[accept]), "image/jpeg")
