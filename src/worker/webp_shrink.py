"""Decode a still WebP straight to a smaller size with libwebp's own scaler.

Pillow decodes WebP only in full (through libwebp's animation decoder, which also
composites onto canvases of its own), so a thumbnail of a large WebP would pay for every
source pixel's colour conversion and then for a resize. libwebp can instead scale while
it converts its YUV (or lossless ARGB) rows: an area-averaging shrink done in the
decoder, one pass, nothing full-size handed over.

Pillow links the libwebp it bundles into its ``_webp`` extension; opening that extension
with ``dlopen`` reaches libwebp's symbols through it, so no second copy of the library
and no new dependency are needed. Wherever that fails (no symbol, an incompatible ABI, an
animated file, a decode error) ``shrunk_webp`` gives None and the caller decodes with
Pillow as before, which also reports a broken file the usual way.
"""

import ctypes
from functools import lru_cache

from PIL import Image

# decode.h's ABI: its major byte must match the library's (minor releases only append
# fields inside the structures' padding).
_DECODER_ABI_VERSION = 0x0209
_MODE_RGB = 0
_MODE_RGBA = 1
_STATUS_OK = 0

Size = tuple[int, int]


class _Features(ctypes.Structure):
    _fields_ = (
        *((name, ctypes.c_int) for name in ("width", "height", "has_alpha", "has_animation")),
        ("format", ctypes.c_int),
        ("pad", ctypes.c_uint32 * 5),
    )


class _RGBABuffer(ctypes.Structure):
    _fields_ = (("rgba", ctypes.c_void_p), ("stride", ctypes.c_int), ("size", ctypes.c_size_t))


class _YUVABuffer(ctypes.Structure):
    _fields_ = (
        *((plane, ctypes.c_void_p) for plane in ("y", "u", "v", "a")),
        *((stride, ctypes.c_int) for stride in ("y_stride", "u_stride", "v_stride", "a_stride")),
        *((size, ctypes.c_size_t) for size in ("y_size", "u_size", "v_size", "a_size")),
    )


class _Buffers(ctypes.Union):
    _fields_ = (("RGBA", _RGBABuffer), ("YUVA", _YUVABuffer))


class _DecBuffer(ctypes.Structure):
    _fields_ = (
        ("colorspace", ctypes.c_int),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("is_external_memory", ctypes.c_int),
        ("u", _Buffers),
        ("pad", ctypes.c_uint32 * 4),
        ("private_memory", ctypes.c_void_p),
    )


_OPTION_NAMES = (
    "bypass_filtering",
    "no_fancy_upsampling",
    "use_cropping",
    "crop_left",
    "crop_top",
    "crop_width",
    "crop_height",
    "use_scaling",
    "scaled_width",
    "scaled_height",
    "use_threads",
    "dithering_strength",
    "flip",
    "alpha_dithering_strength",
)


class _Options(ctypes.Structure):
    _fields_ = (*((name, ctypes.c_int) for name in _OPTION_NAMES), ("pad", ctypes.c_uint32 * 5))


class _Config(ctypes.Structure):
    _fields_ = (("input", _Features), ("output", _DecBuffer), ("options", _Options))


class _LibWebP:
    """The three libwebp entry points used, typed for ctypes."""

    def __init__(self, library: ctypes.CDLL) -> None:
        self.init_config = library.WebPInitDecoderConfigInternal
        self.init_config.argtypes = (ctypes.POINTER(_Config), ctypes.c_int)
        self.init_config.restype = ctypes.c_int
        self.get_features = library.WebPGetFeaturesInternal
        self.get_features.argtypes = (
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.POINTER(_Features),
            ctypes.c_int,
        )
        self.get_features.restype = ctypes.c_int
        self.decode = library.WebPDecode
        self.decode.argtypes = (ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(_Config))
        self.decode.restype = ctypes.c_int


@lru_cache(maxsize=1)
def _libwebp() -> _LibWebP | None:
    try:
        from PIL import _webp

        return _LibWebP(ctypes.CDLL(_webp.__file__))
    except (ImportError, OSError, AttributeError):  # no WebP in Pillow, or no such symbol
        return None


def shrunk_webp(data: bytes, size: Size, mode: str) -> Image.Image | None:
    """The still WebP ``data`` decoded and shrunk to ``size`` in ``mode`` (RGB or RGBA);
    None when libwebp cannot do it here (the caller then decodes with Pillow)."""
    library = _libwebp()
    if library is None or mode not in ("RGB", "RGBA"):
        return None
    config = _Config()
    if not library.init_config(ctypes.byref(config), _DECODER_ABI_VERSION):
        return None
    features = ctypes.byref(config.input)
    if library.get_features(data, len(data), features, _DECODER_ABI_VERSION) != _STATUS_OK:
        return None
    width, height = size
    if config.input.has_animation or not (
        0 < width <= config.input.width and 0 < height <= config.input.height
    ):
        return None
    config.options.use_scaling = 1
    config.options.scaled_width, config.options.scaled_height = size
    stride = width * len(mode)
    pixels = ctypes.create_string_buffer(stride * height)
    output = config.output
    output.colorspace = _MODE_RGBA if mode == "RGBA" else _MODE_RGB
    output.is_external_memory = 1
    output.u.RGBA.rgba = ctypes.cast(pixels, ctypes.c_void_p)
    output.u.RGBA.stride = stride
    output.u.RGBA.size = len(pixels)
    if library.decode(data, len(data), ctypes.byref(config)) != _STATUS_OK:
        return None
    return Image.frombytes(mode, size, pixels.raw)
