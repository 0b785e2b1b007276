"""Write the benchmark corpus to bench/corpus/ (gitignored): seeded, so always the same bytes.

Every file stays under 1 MiB, the server's default upload limit. The pictures come from
the test image factory (tests/support/images.py), a package of the dev install.

    .venv/bin/python bench/corpus.py
"""

from collections.abc import Callable
from pathlib import Path

from PIL import Image

from support import images

REPO = Path(__file__).resolve().parent.parent

CORPUS_DIR = REPO / "bench" / "corpus"
MAX_BYTES = 1 << 20


def _rotated_photo() -> bytes:
    # Stored sideways with EXIF orientation 6, as phones do: upright it is 2400x1600.
    upright = images.photo_image((2400, 1600), seed=7)
    return images.jpeg(image=upright.transpose(Image.Transpose.ROTATE_90), orientation=6)


CORPUS: dict[str, Callable[[], bytes]] = {
    "photo_800x600.jpg": lambda: images.jpeg((800, 600), seed=1, quality=90),
    "photo_800x600_progressive.jpg": lambda: images.jpeg(
        (800, 600), seed=1, quality=90, progressive=True
    ),
    "photo_1600x1200.jpg": lambda: images.jpeg((1600, 1200), seed=2, quality=90),
    "photo_1600x1200_progressive.jpg": lambda: images.jpeg(
        (1600, 1200), seed=2, quality=90, progressive=True
    ),
    "photo_2400x1600.jpg": lambda: images.jpeg((2400, 1600), seed=3, quality=85),
    "photo_2400x1600_progressive.jpg": lambda: images.jpeg(
        (2400, 1600), seed=3, quality=85, progressive=True
    ),
    "photo_3000x2000.jpg": lambda: images.jpeg((3000, 2000), seed=4, quality=80),
    "photo_3000x2000_progressive.jpg": lambda: images.jpeg(
        (3000, 2000), seed=4, quality=80, progressive=True
    ),
    "cmyk_1600x1200.jpg": lambda: images.jpeg((1600, 1200), seed=5, mode="CMYK", quality=75),
    "exif_rotated_2400x1600.jpg": _rotated_photo,
    "grayscale_1600x1200.jpg": lambda: images.jpeg((1600, 1200), seed=6, mode="L", quality=90),
    "rgba_1200x900.png": lambda: images.png((1200, 900), seed=8),
    "palette_transparent_1600x1200.png": lambda: images.palette_png(
        (1600, 1200), seed=9, colours=256
    ),
    "rgb16_1024x768.png": lambda: images.png16((1024, 768), seed=10),
    "animated_800x600.gif": lambda: images.gif((800, 600), seed=11, frames=3),
    "lossy_1600x1200.webp": lambda: images.webp((1600, 1200), seed=12),
    "alpha_1600x1200.webp": lambda: images.webp((1600, 1200), seed=13, alpha=True),
    "tiny_50x40.jpg": images.tiny,
    "panorama_4000x100.jpg": images.panorama,
}


def build(directory: Path = CORPUS_DIR) -> list[Path]:
    """Write every corpus file into ``directory`` and return their paths, in corpus order."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in CORPUS.items():
        data = make()
        if len(data) >= MAX_BYTES:
            raise ValueError(f"{name} is {len(data)} bytes, over the 1 MiB upload limit")
        path = directory / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def main() -> None:
    """Build the corpus and list it."""
    for path in build():
        print(f"{path.stat().st_size:>9,}  {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
