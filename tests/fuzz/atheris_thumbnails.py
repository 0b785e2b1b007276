"""Coverage-guided fuzzing of ``make_thumbnails`` with atheris (libFuzzer), by hand.

    .venv/bin/pip install atheris
    .venv/bin/python tests/fuzz/atheris_thumbnails.py -max_total_time=600 [CORPUS_DIR]

It starts from the seeds of the Hypothesis target (written to CORPUS_DIR, or to a
temporary directory) and checks the same properties (``thumbnail_target``); a crash
leaves its input in ``crash-*`` for a regression test. Python code (ours and Pillow's
plugins) is instrumented; Pillow's C decoders are not.
"""

import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests directory

with atheris.instrument_imports():
    from fuzz.thumbnail_target import check_thumbnails
    from sharer.formats import sniff
    from support.mutations import seeds


def one_input(data: bytes) -> None:
    """libFuzzer's entry point: bytes that sniff as an accepted format go to the target."""
    source_format = sniff(data[:16])
    if source_format is not None:
        check_thumbnails(data, source_format)


def main() -> None:
    """Write the seed corpus unless a corpus directory is given, then fuzz."""
    args = list(sys.argv)
    if not any(Path(arg).is_dir() for arg in args[1:]):
        corpus = Path(tempfile.mkdtemp(prefix="thumbnail-corpus-"))
        args.append(str(corpus))
    corpus = next(Path(arg) for arg in args[1:] if Path(arg).is_dir())
    for name, data in seeds().items():
        (corpus / name).write_bytes(data)
    atheris.Setup(args, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
