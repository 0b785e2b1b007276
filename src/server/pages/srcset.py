"""The share page's ``srcset``: every size the image has, by its width, so that a browser
picks the smallest one that still fills its screen's pixels and never scales a smaller
one up when a larger one exists (a high-density screen gets the original where it is
larger than the large thumbnail and in a format every browser shows).

Each thumbnail URL is negotiated (``sharer.thumbnail_variants``): the browser's own
Accept header picks AVIF or WebP from the same URL, so no ``<source type>`` is needed.
"""

from sharer.formats import AVIF, GIF, JPEG, PNG, WEBP
from sharer.thumbnail_sizes import THUMBNAIL_NAMES

# Original formats that browsers show in an <img> (HEIC is Safari's alone).
_SHOWN_EVERYWHERE = frozenset(f.extension for f in (JPEG, PNG, GIF, WEBP, AVIF))


def image_srcset(document: dict[str, object]) -> str | None:
    """``url <width>w`` for each thumbnail (smallest first; one per width) and the
    original when it is wider and shown everywhere; None without the sizes (pending)."""
    urls, sizes = document.get("urls"), document.get("thumbnails")
    if not isinstance(urls, dict) or not isinstance(sizes, dict):
        return None
    candidates: dict[int, str] = {}
    for name in THUMBNAIL_NAMES:
        width = _width(sizes.get(name))
        if width is None or not isinstance(urls.get(name), str):
            return None
        candidates.setdefault(width, str(urls[name]))
    original, original_width = urls.get("original"), document.get("width")
    if (
        isinstance(original, str)
        and isinstance(original_width, int)
        and original_width > max(candidates)
        and original.rsplit(".", 1)[-1].lower() in _SHOWN_EVERYWHERE
    ):
        candidates[original_width] = original
    return ", ".join(f"{url} {width}w" for width, url in sorted(candidates.items()))


def _width(size: object) -> int | None:
    if isinstance(size, dict) and isinstance(size.get("width"), int):
        return int(size["width"])
    return None
