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

# Client -> the media type it must be served for a JPEG thumbnail with variants.
EXPECTED_MEDIA_TYPE = {
    CHROMIUM: "image/avif",
    FIREFOX: "image/avif",
    SAFARI: "image/avif",
    SAFARI_WEBP_ONLY: "image/webp",
    CURL: "image/jpeg",
}
