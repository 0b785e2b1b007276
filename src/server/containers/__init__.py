"""The code that reads image containers on the request path: one module per format.

Each module (``jpeg``, ``png``, ``gif``, ``webp``, ``heif``, ``avif``) holds its
format's walk, declared size, decode proof and metadata strip, and exports a
``CONTAINER`` (``avif`` has two helpers of its own: ``av1``, the bitstream's sequence
headers, and ``avif_tracks``, an image sequence's tracks); ``server.inspection`` and
``server.privacy`` only dispatch to them. Adding a format means adding its module here
(and its ``ImageFormat`` and signature in ``sharer.formats``, the vocabulary the worker
shares).
"""

from server.containers import avif, gif, heif, jpeg, png, webp
from server.containers.walked import Container, Malformed, WalkedImage
from sharer.formats import ImageFormat

CONTAINERS: dict[ImageFormat, Container] = {
    module.CONTAINER.image_format: module.CONTAINER for module in (jpeg, png, gif, webp, heif, avif)
}


def walk_container(data: bytes, image_format: ImageFormat) -> WalkedImage:
    """Walk ``data`` as ``image_format`` once; raises ``Malformed`` if it does not parse."""
    return CONTAINERS[image_format].walk(data)


__all__ = ["CONTAINERS", "Malformed", "WalkedImage", "walk_container"]
