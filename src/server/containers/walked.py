"""What every container module provides: a walk of the file that the door's checks share.

A container module (one per accepted format) holds everything that reads that format's
bytes on the request path: the walk of its structure, the dimensions its header declares,
how its pixels are proven to decode, and how its metadata is stripped. Its ``walk`` runs
once per upload; the ``WalkedImage`` it returns carries what the later steps need, so
none of them parses the file again.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from PIL import Image

from sharer.formats import Animation, ImageFormat


class Malformed(ValueError):
    """The container does not parse; the upload is refused as damaged."""


class WalkedImage(ABC):
    """One upload's container, walked: its declared size, proof and metadata strip."""

    # How many times the memory per pixel of a 4-byte-per-pixel decode this format's
    # decode proof needs; the pixel cap is divided by it.
    cost_factor: ClassVar[int] = 1
    # Whether ``prove_decodes`` is a full decode by a costly codec: such proofs are
    # bounded per process (``server.proof_slots``).
    costly_proof: ClassVar[bool] = False

    def __init__(
        self, data: bytes, size: tuple[int, int], animation: Animation | None = None
    ) -> None:
        self.data = data
        self.size = size
        # Two frames or more, as the container counts them; None for a still image.
        self.animation = animation

    @property
    def decoded_pixels(self) -> int:
        """Pixels the proof's codec decodes for the first image: its size, unless the
        image is composed of others decoded in full first (a HEIF overlay)."""
        return self.size[0] * self.size[1]

    def pillow_input(self) -> bytes:
        """The bytes handed to the format's Pillow plugin for the decode proof."""
        return self.data

    def prove_decodes(self, image: Image.Image) -> None:
        """Raise one of ``DECODE_ERRORS`` unless the pixels decode (``image`` is the
        ``pillow_input`` opened lazily). By default Pillow decodes the first frame."""
        image.load()

    @abstractmethod
    def without_metadata(self) -> bytes:
        """The file without its metadata, its compressed pixels copied byte for byte.

        Raises ``Malformed`` when the container cannot be rewritten.
        """


@dataclass(frozen=True)
class Container:
    """An accepted format's container module, as the dispatchers see it."""

    image_format: ImageFormat
    walk: Callable[[bytes], WalkedImage]
