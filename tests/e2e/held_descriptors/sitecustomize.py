"""Loaded (through PYTHONPATH) by the server of ``tests/e2e/test_waiting_descriptors.py``:
the process holds ``SHARER_TEST_HELD_DESCRIPTORS`` descriptors from its start, and its
gunicorn workers inherit them, so every socket they open later is numbered past the
1,024 that ``select.select`` can watch: as a server holding thousands of connections is.
"""

import os

_HELD = [
    os.open(os.devnull, os.O_RDONLY)
    for _ in range(int(os.environ.get("SHARER_TEST_HELD_DESCRIPTORS", "0")))
]
