"""Synthetic test images, built in memory and seeded: the same call returns the same bytes.

Pictures look like photographs rather than noise (gradients, blurred shapes, small sharp
details, a little sensor grain), so encoders and decoders do realistic work. Every
builder returns encoded ``bytes`` unless its name says ``image``. The benchmark corpus
(``bench/corpus.py``) builds its files with these functions too. Bombs, broken containers
and refused formats, built from these, are in ``support.hostile_images``.
"""

import io
import random
import struct
import zlib
from collections.abc import Callable
from functools import lru_cache

import pillow_heif
from PIL import ExifTags, Image, ImageChops, ImageCms, ImageDraw, ImageFilter, PngImagePlugin

from server.containers.png import ADAM7

Size = tuple[int, int]
Colour = tuple[int, int, int]

# The four quadrants of ``marker_image``, named by where they sit when it is upright.
# All four differ, so each of the eight EXIF orientations leaves a distinct arrangement.
MARKER_COLOURS: dict[str, Colour] = {
    "top_left": (230, 30, 30),
    "top_right": (30, 200, 30),
    "bottom_left": (30, 30, 230),
    "bottom_right": (240, 230, 40),
}

# How to store an upright picture so that a viewer honouring EXIF orientation ``n``
# shows it upright again (EXIF 2.32, tag 0x0112: where row 0 / column 0 of the stored
# image appear on screen). Rotations are Pillow's, counter-clockwise.
_STORE_FOR_ORIENTATION: dict[int, tuple[Image.Transpose, ...]] = {
    1: (),
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),  # row 0 on top, column 0 on the right
    3: (Image.Transpose.ROTATE_180,),  # row 0 at the bottom, column 0 on the right
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),  # row 0 at the bottom, column 0 on the left
    5: (Image.Transpose.TRANSPOSE,),  # row 0 on the left, column 0 on top
    6: (Image.Transpose.ROTATE_90,),  # row 0 on the right, column 0 on top
    7: (Image.Transpose.TRANSVERSE,),  # row 0 on the right, column 0 at the bottom
    8: (Image.Transpose.ROTATE_270,),  # row 0 on the left, column 0 at the bottom
}

COMMENT = b"SECRET-COMMENT camera owner: Alice"
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="SECRET-XMP-CREATOR"/>'
    b"</rdf:RDF></x:xmpmeta>"
)
GPS_LATITUDE = (48.0, 51.0, 29.0)


# ---------------------------------------------------------------- pictures


def photo_image(size: Size = (320, 240), *, seed: int = 0, grain: float = 6.0) -> Image.Image:
    """A photograph-like RGB picture: soft colour fields, sharp small details, grain."""
    return _photo(size, seed, grain).copy()


@lru_cache(maxsize=32)
def _photo(size: Size, seed: int, grain: float) -> Image.Image:
    rng = random.Random(seed)
    width, height = size
    short = min(width, height)

    def gradient() -> Image.Image:
        angle = rng.uniform(0, 360)
        return Image.linear_gradient("L").rotate(angle).resize(size, Image.Resampling.BILINEAR)

    picture = Image.merge("RGB", [gradient() for _ in range(3)])
    draw = ImageDraw.Draw(picture)
    for _ in range(12):
        x, y = rng.uniform(-0.2, 1.2) * width, rng.uniform(-0.2, 1.2) * height
        r = rng.uniform(0.1, 0.5) * short
        draw.ellipse((x - r, y - r * rng.uniform(0.5, 1.5), x + r, y + r), fill=_colour(rng))
    picture = picture.filter(ImageFilter.GaussianBlur(max(1.0, short / 30)))
    draw = ImageDraw.Draw(picture)
    for _ in range(max(4, width * height // 2500)):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(2, max(3.0, short / 40))
        corners = [(x + rng.uniform(-r, r), y + rng.uniform(-r, r)) for _ in range(4)]
        draw.polygon(corners, fill=_colour(rng))
    picture = picture.filter(ImageFilter.GaussianBlur(1.2))
    if grain:
        noise = _grain(size, grain, seed)
        picture = ImageChops.add(picture, noise, offset=-128)
    return picture


def _grain(size: Size, sigma: float, seed: int) -> Image.Image:
    # Image.effect_noise is unseeded, so grain is drawn from our own generator instead:
    # a small seeded tile of Gaussian values, laid in quarter turns to hide repetition.
    rng = random.Random(seed)
    tile_size = 127
    tile = Image.new("L", (tile_size, tile_size))
    tile.putdata([max(0, min(255, round(rng.gauss(128, sigma)))) for _ in range(tile_size**2)])
    layer = Image.new("L", size)
    for y in range(0, size[1], tile_size):
        for x in range(0, size[0], tile_size):
            layer.paste(tile.rotate(90 * ((x + y) // tile_size % 4)), (x, y))
    return Image.merge("RGB", (layer, layer.transpose(Image.Transpose.FLIP_LEFT_RIGHT), layer))


def _colour(rng: random.Random) -> Colour:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def marker_image(size: Size = (320, 240)) -> Image.Image:
    """An upright RGB picture whose four quadrants have the colours of ``MARKER_COLOURS``."""
    width, height = size
    picture = Image.new("RGB", size)
    half_w, half_h = width // 2, height // 2
    boxes = {
        "top_left": (0, 0, half_w, half_h),
        "top_right": (half_w, 0, width, half_h),
        "bottom_left": (0, half_h, half_w, height),
        "bottom_right": (half_w, half_h, width, height),
    }
    for name, box in boxes.items():
        picture.paste(MARKER_COLOURS[name], box)
    return picture


def alpha_mask(size: Size) -> Image.Image:
    """An "L" mask: opaque soft-edged ellipse, transparent corners, half-transparent ring."""
    width, height = size
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    draw.ellipse((width * 0.05, height * 0.05, width * 0.95, height * 0.95), fill=128)
    draw.ellipse((width * 0.15, height * 0.15, width * 0.85, height * 0.85), fill=255)
    return mask.filter(ImageFilter.GaussianBlur(max(1.0, min(size) / 60)))


# ---------------------------------------------------------------- metadata


def exif_bytes(*, orientation: int | None = None, gps: bool = False) -> bytes:
    """An EXIF block (``Exif\\0\\0`` + TIFF) with an orientation and/or a GPS position."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SyntheticCam"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        position = exif.get_ifd(ExifTags.IFD.GPSInfo)
        position[ExifTags.GPS.GPSLatitudeRef] = "N"
        position[ExifTags.GPS.GPSLatitude] = GPS_LATITUDE
        position[ExifTags.GPS.GPSLongitudeRef] = "E"
        position[ExifTags.GPS.GPSLongitude] = (2.0, 17.0, 40.0)
    return exif.tobytes()


def srgb_icc() -> bytes:
    """LittleCMS's built-in sRGB profile, serialized."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def swapped_icc() -> bytes:
    """An RGB profile whose red and green primaries are sRGB's green and red.

    Pixels stored as pure red mean sRGB green under it, so a correct conversion to sRGB
    is visible at a glance. Made by swapping the rXYZ and gXYZ tags of ``srgb_icc``.
    """
    profile = bytearray(srgb_icc())
    profile[84:100] = bytes(16)  # profile id (an MD5) no longer matches: "not computed"
    (count,) = struct.unpack_from(">I", profile, 128)
    entries = {bytes(profile[132 + 12 * i : 136 + 12 * i]): 132 + 12 * i for i in range(count)}
    red, green = entries[b"rXYZ"], entries[b"gXYZ"]
    red_ptr, green_ptr = profile[red + 4 : red + 12], profile[green + 4 : green + 12]
    profile[red + 4 : red + 12], profile[green + 4 : green + 12] = green_ptr, red_ptr
    return bytes(profile)


# ---------------------------------------------------------------- encoders


def encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    """Encode ``image`` with Pillow and return the bytes."""
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def jpeg(
    size: Size = (320, 240),
    *,
    seed: int = 0,
    image: Image.Image | None = None,
    mode: str = "RGB",
    quality: int = 85,
    progressive: bool = False,
    orientation: int | None = None,
    gps: bool = False,
    comment: bytes | None = None,
    xmp: bytes | None = None,
    icc_profile: bytes | None = None,
    grain: float = 6.0,
) -> bytes:
    """A JPEG of a photo (or of ``image``) in ``mode`` RGB, L or CMYK, with optional metadata."""
    picture = image if image is not None else photo_image(size, seed=seed, grain=grain)
    if picture.mode != mode:
        picture = picture.convert(mode)
    options: dict[str, object] = {"quality": quality, "progressive": progressive}
    if orientation is not None or gps:
        options["exif"] = exif_bytes(orientation=orientation, gps=gps)
    if comment is not None:
        options["comment"] = comment
    if xmp is not None:
        options["xmp"] = xmp
    if icc_profile is not None:
        options["icc_profile"] = icc_profile
    return encode(picture, "JPEG", **options)


def jpeg_of_exact_size(size: int) -> bytes:
    """A valid JPEG padded to exactly ``size`` bytes with comment (COM) segments."""
    data = jpeg((64, 48))
    missing = size - len(data)
    segments = []
    while missing > 0:
        # A segment is 2 marker bytes plus a length field of at most 65535 (counting itself).
        total = min(missing, 65537)
        if 0 < missing - total < 4:
            total -= 4
        segments.append(b"\xff\xfe" + (total - 2).to_bytes(2, "big") + b"\x00" * (total - 4))
        missing -= total
    padded = data[:2] + b"".join(segments) + data[2:]
    assert len(padded) == size
    return padded


def oriented_jpeg(orientation: int, size: Size = (320, 240), *, fmt: str = "JPEG") -> bytes:
    """``marker_image(size)`` stored so that EXIF ``orientation`` displays it upright."""
    stored = marker_image(size)
    for step in _STORE_FOR_ORIENTATION[orientation]:
        stored = stored.transpose(step)
    return encode(stored, fmt, exif=exif_bytes(orientation=orientation), quality=95)


def png(
    size: Size = (320, 240),
    *,
    seed: int = 0,
    mode: str = "RGBA",
    xmp: bytes | None = None,
    grain: float = 0.0,
    transparency: int | tuple[int, int, int] | None = None,
) -> bytes:
    """A PNG photo in ``mode`` RGB, RGBA (soft alpha mask), L or LA; ``transparency`` adds
    a tRNS colour key to an RGB or L one."""
    picture = photo_image(size, seed=seed, grain=grain)
    if "A" in mode:
        picture.putalpha(alpha_mask(size))
    picture = picture.convert(mode)
    info = PngImagePlugin.PngInfo()
    if xmp is not None:
        info.add_itxt("XML:com.adobe.xmp", xmp.decode())
    if transparency is not None:
        return encode(picture, "PNG", pnginfo=info, transparency=transparency)
    return encode(picture, "PNG", pnginfo=info)


def palette_png(size: Size = (320, 240), *, seed: int = 0, colours: int = 64) -> bytes:
    """A palette PNG of a photo whose corners use a fully transparent palette entry."""
    picture = photo_image(size, seed=seed, grain=0).quantize(colours - 1)
    transparent = colours - 1
    palette = picture.getpalette() or []
    picture.putpalette([*palette[: 3 * transparent], 255, 255, 255])
    mask = alpha_mask(size).point(lambda v: 255 if v < 64 else 0).convert("1")
    picture.paste(transparent, (0, 0, *size), mask)
    return encode(picture, "PNG", transparency=transparent)


def png16(size: Size = (320, 240), *, seed: int = 0, channels: str = "RGB") -> bytes:
    """A 16-bit-per-sample PNG (``channels`` RGB, RGBA or L) of a smooth photo."""
    picture = photo_image(size, seed=seed, grain=0)
    if channels == "RGBA":
        picture.putalpha(alpha_mask(size))
    picture = picture.convert(channels)
    raw = picture.tobytes()
    # Each 8-bit sample v becomes the 16-bit sample v * 257 (big-endian v, v).
    wide = bytearray(2 * len(raw))
    wide[0::2] = raw
    wide[1::2] = raw
    stride = 2 * len(channels) * size[0]
    rows = (b"\x00" + wide[y * stride : (y + 1) * stride] for y in range(size[1]))
    colour_type = {"L": 0, "RGB": 2, "RGBA": 6}[channels]
    return png_chunks(size, colour_type, 16, zlib.compress(b"".join(rows), 6))


def interlaced_png(size: Size = (37, 23), *, seed: int = 0) -> bytes:
    """An Adam7-interlaced RGB PNG of a photo (Pillow only writes non-interlaced ones)."""
    width, height = size
    raw = photo_image(size, seed=seed, grain=0).tobytes()
    rows = []
    for x0, y0, dx, dy in ADAM7:
        for y in range(y0, height, dy):
            line = raw[3 * width * y : 3 * width * (y + 1)]
            channels = [line[c::3][x0::dx] for c in range(3)]
            if channels[0]:
                pixels = bytearray(3 * len(channels[0]))
                for c in range(3):
                    pixels[c::3] = channels[c]
                rows.append(b"\x00" + pixels)
    return png_chunks(size, 2, 8, zlib.compress(b"".join(rows)), interlaced=True)


def png_chunks(
    size: Size,
    colour_type: int,
    bit_depth: int,
    idat: bytes,
    *,
    plte: bytes | None = None,
    interlaced: bool = False,
) -> bytes:
    """A PNG file made of IHDR, optional PLTE, one IDAT holding ``idat`` and IEND."""
    header = struct.pack(
        ">IIBBBBB", size[0], size[1], bit_depth, colour_type, 0, 0, int(interlaced)
    )
    chunks = [(b"IHDR", header)]
    if plte is not None:
        chunks.append((b"PLTE", plte))
    chunks += [(b"IDAT", idat), (b"IEND", b"")]
    return png_from_chunks(chunks)


def png_from_chunks(chunks: list[tuple[bytes, bytes]]) -> bytes:
    """A PNG file of ``chunks`` (type, body), each with its length and a right CRC."""
    return b"\x89PNG\r\n\x1a\n" + b"".join(_png_chunk(kind, body) for kind, body in chunks)


def png_chunk_list(data: bytes) -> list[tuple[bytes, bytes]]:
    """The (type, body) of each chunk of a well-formed PNG."""
    chunks, at = [], 8
    while at < len(data):
        length, kind = struct.unpack_from(">I4s", data, at)
        chunks.append((kind, data[at + 8 : at + 8 + length]))
        at += 12 + length
    return chunks


def apng(size: Size = (48, 32), frames: int = 3) -> bytes:
    """An animated PNG (acTL, then fcTL and fdAT per frame), made by Pillow."""
    pictures = [photo_image(size, seed=seed) for seed in range(frames)]
    return encode(pictures[0], "PNG", save_all=True, append_images=pictures[1:])


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def solid_png(size: Size, colour: Colour = (90, 140, 200)) -> bytes:
    """A complete, valid RGB PNG of one colour: huge in pixels, tiny in bytes."""
    row = b"\x00" + bytes(colour) * size[0]
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(size[1])) + compressor.flush()
    return png_chunks(size, 2, 8, body)


def gif(
    size: Size = (320, 240), *, seed: int = 0, frames: int = 1, transparent: bool = False
) -> bytes:
    """A GIF of a photo; ``frames`` > 1 makes it animated (each frame a different photo)."""
    pictures = [
        photo_image(size, seed=seed + n, grain=0).quantize(255 if transparent else 256)
        for n in range(frames)
    ]
    options: dict[str, object] = {"save_all": frames > 1, "duration": 100, "loop": 0}
    if frames > 1:
        options["append_images"] = pictures[1:]
    if transparent:
        mask = alpha_mask(size).point(lambda v: 255 if v < 64 else 0).convert("1")
        for picture in pictures:
            picture.paste(255, (0, 0, *size), mask)
        options["transparency"] = 255
    return encode(pictures[0], "GIF", **options)


def webp(
    size: Size = (320, 240),
    *,
    seed: int = 0,
    alpha: bool = False,
    lossless: bool = False,
    quality: int = 80,
    exif: bytes | None = None,
    xmp: bytes | None = None,
    grain: float = 6.0,
) -> bytes:
    """A WebP photo, lossy by default, with a soft alpha mask when ``alpha``."""
    picture = photo_image(size, seed=seed, grain=grain)
    if alpha:
        picture.putalpha(alpha_mask(size))
    options: dict[str, object] = {"quality": quality, "lossless": lossless}
    if exif is not None:
        options["exif"] = exif
    if xmp is not None:
        options["xmp"] = xmp
    return encode(picture, "WEBP", **options)


def _photo_maybe_alpha(size: Size, seed: int, alpha: bool) -> Image.Image:
    picture = photo_image(size, seed=seed)
    if alpha:
        picture.putalpha(alpha_mask(size))
    return picture


def heif(
    size: Size = (320, 240), *, seed: int = 0, alpha: bool = False, **options: object
) -> bytes:
    """A HEIC photo encoded by libheif's x265 (pillow-heif), with a soft alpha mask when
    ``alpha``; ``options`` go to the encoder (``exif``, ``xmp``, ``tile_size`` for a grid)."""
    buffer = io.BytesIO()
    encoded = pillow_heif.from_pillow(_photo_maybe_alpha(size, seed, alpha))
    encoded.save(buffer, format="HEIF", **({"quality": 60} | options))
    return buffer.getvalue()


def heif_many_images(count: int = 40, size: Size = (64, 48)) -> bytes:
    """A HEIF holding ``count`` top-level images; the first is the primary one."""
    container = pillow_heif.from_pillow(photo_image(size))
    for seed in range(1, count):
        container.add_from_pillow(photo_image(size, seed=seed))
    buffer = io.BytesIO()
    container.save(buffer, format="HEIF", quality=40)
    return buffer.getvalue()


def avif(
    size: Size = (320, 240), *, seed: int = 0, alpha: bool = False, **options: object
) -> bytes:
    """An AVIF photo encoded by Pillow's own plugin (libavif), with a soft alpha mask
    when ``alpha``; ``options`` go to the encoder (``exif``, ``xmp``)."""
    return encode(
        _photo_maybe_alpha(size, seed, alpha), "AVIF", **({"quality": 60, "speed": 10} | options)
    )


def avif_sequence(frames: int = 3, size: Size = (64, 48)) -> bytes:
    """An animated AVIF (an image sequence, brand ``avis``)."""
    pictures = [photo_image(size, seed=seed) for seed in range(frames)]
    return encode(pictures[0], "AVIF", save_all=True, append_images=pictures[1:], speed=10)


def tiny() -> bytes:
    """A 50x40 JPEG: smaller than every thumbnail box."""
    return jpeg((50, 40))


def panorama() -> bytes:
    """A 4000x100 JPEG: an extreme aspect ratio."""
    return jpeg((4000, 100), grain=3.0)


# ---------------------------------------------------------------- metadata-laden files


def jpeg_with_metadata(orientation: int = 6) -> bytes:
    """A JPEG carrying everything a camera or editor leaves: EXIF with GPS and an
    orientation, XMP, a comment, an ICC profile, and a trailer after end-of-image."""
    data = jpeg(orientation=orientation, gps=True, comment=COMMENT, xmp=XMP, icc_profile=srgb_icc())
    return data + b"SECRET-TRAILER"


def png_with_metadata(orientation: int = 6) -> bytes:
    """An RGBA PNG with text chunks, XMP, EXIF (GPS and orientation), a time stamp and
    a trailer after IEND."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", COMMENT.decode())
    info.add_text("Author", "SECRET-AUTHOR", zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    info.add(b"tIME", struct.pack(">HBBBBB", 2024, 5, 17, 12, 0, 0))
    picture = photo_image(seed=3, grain=0)
    picture.putalpha(alpha_mask(picture.size))
    exif = exif_bytes(orientation=orientation, gps=True)
    return encode(picture, "PNG", pnginfo=info, exif=exif) + b"SECRET-TRAILER"


def gif_with_metadata(frames: int = 2) -> bytes:
    """An animated GIF with a comment, an XMP application extension and a trailer."""
    data = gif((96, 64), frames=frames)
    xmp = b"XMP DataXMP" + XMP + b"\x01" + bytes(range(255, -1, -1))  # XMP's "magic trailer"
    blocks = b"".join(bytes([len(chunk)]) + chunk for chunk in _sub_blocks(xmp[11:]))
    extension = b"\x21\xff\x0b" + xmp[:11] + blocks + b"\x00"
    comment = b"\x21\xfe" + bytes([len(COMMENT)]) + COMMENT + b"\x00"
    first_block = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    return data[:first_block] + comment + extension + data[first_block:] + b"SECRET-TRAILER"


def _sub_blocks(data: bytes) -> list[bytes]:
    return [data[i : i + 255] for i in range(0, len(data), 255)]


def webp_with_metadata(orientation: int = 6) -> bytes:
    """A WebP with alpha (so the extended format) carrying EXIF with GPS, and XMP."""
    return webp(alpha=True, exif=exif_bytes(orientation=orientation, gps=True), xmp=XMP)


def heif_with_metadata() -> bytes:
    """A HEIC carrying EXIF items (camera, GPS) and XMP."""
    return heif(exif=exif_bytes(gps=True), xmp=XMP)


def avif_with_metadata() -> bytes:
    """An AVIF carrying EXIF items (camera, GPS) and XMP."""
    return avif(exif=exif_bytes(gps=True), xmp=XMP)


BUILDERS: dict[str, Callable[[], bytes]] = {
    "jpeg": jpeg,
    "jpeg_progressive": lambda: jpeg(progressive=True),
    "jpeg_grayscale": lambda: jpeg(mode="L"),
    "jpeg_cmyk": lambda: jpeg(mode="CMYK"),
    "png_rgb": lambda: png(mode="RGB"),
    "png_rgba": png,
    "png_palette_transparent": palette_png,
    "png_16bit": png16,
    "gif": gif,
    "gif_animated": lambda: gif(frames=3),
    "webp": webp,
    "webp_alpha": lambda: webp(alpha=True),
    "webp_lossless": lambda: webp(lossless=True),
    "heif": heif,
    "heif_alpha": lambda: heif(alpha=True),
    "heif_grid": lambda: heif((640, 480), tile_size=256),
    "avif": avif,
    "avif_alpha": lambda: avif(alpha=True),
}
