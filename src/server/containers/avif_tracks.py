"""An AVIF image sequence's tracks (ISO/IEC 14496-12 ``moov``), read without any codec.

libavif decodes a sequence from its track, whose size and frame count no item property
bounds, so the door reads them from the boxes: each track's sample entry must be AV1
(``av01``), its size (and the track header's) is the declared size, its sample count the
frame count, and its edit list how many times it plays. Every sample's AV1 sequence
headers must keep within the declared size, or libavif would decode frames as large as
they state (see ``server.containers.avif``): the first sample is checked in the walk, the
others by the proof, before libavif decodes anything.
"""

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image

from server.containers.av1 import av1_sequence_frame_size
from server.containers.isobmff import Box, Extent, HeifStructure, WalkedIsobmff, boxes
from server.containers.walked import Malformed, WalkedImage
from sharer.formats import Animation

# A track header's duration with every bit set: the track repeats for ever.
_INDEFINITE = {0: (1 << 32) - 1, 1: (1 << 64) - 1}
_SAMPLE_ENTRY_SIZE_AT = 24
_METADATA_BOXES = (b"udta", b"meta")  # after reserved, data_reference_index and pre-defined fields


@dataclass(frozen=True)
class Track:
    """One track of a sequence: its declared size, samples (file ranges) and plays."""

    size: tuple[int, int]
    samples: list[Extent]
    plays: int


class WalkedAvifSequence(WalkedIsobmff):
    """An AVIF image sequence: libavif decodes its tracks (colour, and alpha if any)."""

    def __init__(self, data: bytes, structure: HeifStructure, tracks: list[Track]) -> None:
        WalkedImage.__init__(
            self,
            data,
            (max(t.size[0] for t in tracks), max(t.size[1] for t in tracks)),
            Animation(max(len(t.samples) for t in tracks), tracks[0].plays),
        )
        self.structure = structure
        self.tracks = tracks
        if self.animation is not None and self.animation.frames < 2:
            self.animation = None

    def without_metadata(self) -> bytes:
        """The items' metadata blanked (see ``WalkedIsobmff``), and every user-data or
        metadata box of the movie and its tracks turned into a free box of zeros, which
        readers skip: nothing moves."""
        out = bytearray(super().without_metadata())
        moov = next(box for box in self.structure.top_level if box.kind == b"moov")
        for box in _metadata_boxes(self.data, moov):
            out[box.start + 4 : box.start + 8] = b"free"
            out[box.body : box.end] = bytes(box.end - box.body)
        return bytes(out)

    def prove_decodes(self, image: Image.Image) -> None:
        """Every sample's sequence headers within its track's size, then libavif's
        decode of the first frame."""
        for track in self.tracks:
            for sample in track.samples[1:]:
                _require_within(self.data, sample, track.size)
        image.load()


def read_tracks(data: bytes, moov: Box) -> list[Track]:
    """The tracks of ``moov``; ``Malformed`` unless there is at least one, each AV1 with a
    declared size, samples inside the file, and a first sample within that size."""
    try:
        tracks = [_track(data, trak) for trak in boxes(data, moov.body, moov.end)
                  if trak.kind == b"trak"]  # fmt: skip
    except (struct.error, IndexError, KeyError) as exc:
        raise Malformed("an image sequence's track is incomplete") from exc
    if not tracks:
        raise Malformed("an image sequence without a track")
    for track in tracks:
        if not _require_within(data, track.samples[0], track.size):
            raise Malformed("an image sequence's first sample has no sequence header")
    return tracks


def _metadata_boxes(data: bytes, moov: Box) -> Iterator[Box]:
    """The ``udta`` and ``meta`` boxes in the movie box and in each of its tracks."""
    for child in boxes(data, moov.body, moov.end):
        if child.kind in _METADATA_BOXES:
            yield child
        elif child.kind == b"trak":
            yield from (b for b in boxes(data, child.body, child.end) if b.kind in _METADATA_BOXES)


def _children(data: bytes, box: Box, skip: int = 0) -> dict[bytes, Box]:
    listed = list(boxes(data, box.body + skip, box.end))
    children = {child.kind: child for child in listed}
    if len(children) < len(listed):
        raise Malformed(f"a box is repeated inside {box.kind!r}")
    return children


def _track(data: bytes, trak: Box) -> Track:
    parts = _children(data, trak)
    tkhd = parts[b"tkhd"]
    version = data[tkhd.body]
    header_width, header_height = (v >> 16 for v in struct.unpack_from(">II", data, tkhd.end - 8))
    stbl = _children(data, _children(data, _children(data, parts[b"mdia"])[b"minf"])[b"stbl"])
    entry = next(boxes(data, stbl[b"stsd"].body + 8, stbl[b"stsd"].end))
    if entry.kind != b"av01":
        raise Malformed("an image sequence's track is not AV1")
    width, height = struct.unpack_from(">HH", data, entry.body + _SAMPLE_ENTRY_SIZE_AT)
    if 0 in (width, height):
        raise Malformed("an image sequence's track declares no size")
    samples = list(_samples(data, stbl))
    if not samples:
        raise Malformed("an image sequence's track has no sample")
    duration_at, width_bytes = (tkhd.body + 28, 8) if version else (tkhd.body + 20, 4)
    duration = int.from_bytes(data[duration_at : duration_at + width_bytes])
    edits = parts.get(b"edts")
    plays = _plays(data, edits, duration, _INDEFINITE[min(version, 1)])
    size = (max(width, header_width), max(height, header_height))
    return Track(size, samples, plays)


def _plays(data: bytes, edts: Box | None, duration: int, indefinite: int) -> int:
    """How many times the track plays (0: for ever), as libavif reads the edit list: no
    list is unknown (shown for ever, as browsers do), an unrepeated one plays once."""
    if edts is None:
        return 0
    elst = _children(data, edts).get(b"elst")
    if elst is None or not data[elst.body + 3] & 1:
        return 1
    if duration == indefinite:
        return 0
    version = data[elst.body]
    segment = int.from_bytes(data[elst.body + 8 : elst.body + (16 if version else 12)])
    if segment == 0:
        return 0
    return min(-(-duration // segment), 65_535)


def _samples(data: bytes, stbl: dict[bytes, Box]) -> Iterator[Extent]:
    """Each sample's file range, from the sample size, chunk offset and sample-to-chunk
    tables; ``Malformed`` for one outside the file."""
    stsz = stbl[b"stsz"]
    fixed, count = struct.unpack_from(">II", data, stsz.body + 4)
    if fixed == 0 and stsz.body + 12 + 4 * count > stsz.end:
        raise Malformed("the sample size table runs past its box")
    if count > len(data):  # every sample takes a byte at least
        raise Malformed("more samples than bytes")
    offsets = _chunk_offsets(data, stbl)
    stsc = stbl[b"stsc"]
    (runs,) = struct.unpack_from(">I", data, stsc.body + 4)
    table = [struct.unpack_from(">II", data, stsc.body + 8 + 12 * n) for n in range(runs)]
    sample = 0
    for run, (first_chunk, per_chunk) in enumerate(table):
        last_chunk = table[run + 1][0] - 1 if run + 1 < len(table) else len(offsets)
        for chunk in range(first_chunk - 1, min(last_chunk, len(offsets))):
            at = offsets[chunk]
            for _ in range(per_chunk):
                if sample >= count:
                    return
                size = fixed or struct.unpack_from(">I", data, stsz.body + 12 + 4 * sample)[0]
                if at + size > len(data):
                    raise Malformed("a sample runs past the end of the file")
                yield Extent(at, size)
                at += size
                sample += 1
    if sample < count:
        raise Malformed("the chunk tables hold fewer samples than the size table")


def _chunk_offsets(data: bytes, stbl: dict[bytes, Box]) -> list[int]:
    wide = b"co64" in stbl
    table = stbl[b"co64"] if wide else stbl[b"stco"]
    (count,) = struct.unpack_from(">I", data, table.body + 4)
    step = 8 if wide else 4
    if table.body + 8 + step * count > table.end:
        raise Malformed("the chunk offset table runs past its box")
    fmt = ">Q" if wide else ">I"
    return [struct.unpack_from(fmt, data, table.body + 8 + step * n)[0] for n in range(count)]


def _require_within(data: bytes, sample: Extent, size: tuple[int, int]) -> bool:
    """Whether ``sample`` has a sequence header (``Malformed`` if it allows frames larger
    than ``size``)."""
    coded = av1_sequence_frame_size(data[sample.offset : sample.offset + sample.length])
    if coded is not None and (coded[0] > size[0] or coded[1] > size[1]):
        raise Malformed("an image sequence codes frames larger than its track declares")
    return coded is not None
