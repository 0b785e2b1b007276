"""Decompression bombs: small files declaring huge images are refused from their header,
and the server's peak memory does not move while they arrive."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from support import hostile_images, images
from support.client import upload
from support.memory import process_memory
from support.services import Service

BOMBS = {
    "png": hostile_images.png_bomb,
    "gif": hostile_images.gif_bomb,
    "jpeg": hostile_images.jpeg_bomb,
    "webp": hostile_images.webp_bomb,
    "heif": hostile_images.heif_bomb,
    "avif": hostile_images.avif_bomb,
}
MIB = 1024 * 1024
# Peak RSS may grow by this much per server process while bombs arrive: request buffers,
# not pixels (a 30000x30000 bomb would need 2.5 GiB as RGB). The main loop buffers each
# request whole before a thread parses it, so one process may hold all eight clients'
# bodies (about 1 MiB each) while its threads hold the parsed copies of four.
PEAK_GROWTH_KIB = 16 * 1024


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_a_bomb_is_refused_for_its_declared_size(local: Service, name: str) -> None:
    data = BOMBS[name]()
    assert len(data) < MIB
    response = upload(local.base_url, data)
    assert response.status_code == 400
    assert "pixels" in response.json()["error"]


@pytest.mark.parametrize(
    "bomb", [hostile_images.png_bomb, hostile_images.gif_bomb], ids=["png", "gif"]
)
def test_the_verdict_comes_from_the_header_alone(
    local: Service, bomb: Callable[..., bytes]
) -> None:
    # No pixel data at all: were the pixels looked at, this would be "damaged".
    response = upload(local.base_url, bomb(payload=0))
    assert response.status_code == 400
    assert "30000x30000 pixels" in response.json()["error"]


def test_peak_memory_stays_flat_while_50_bombs_arrive(local: Service) -> None:
    assert local.server is not None
    largest = [
        hostile_images.png_bomb(payload=1000 * 1024),
        hostile_images.gif_bomb(payload=1000 * 1024),
    ]
    assert all(len(bomb) < MIB for bomb in largest)
    bombs = [
        (hostile_images.png_bomb if n % 2 else hostile_images.gif_bomb)(
            payload=(64, 512, 1000)[n % 3] * 1024
        )
        for n in range(46)
    ] + largest * 2
    # Warm up every process with the largest bombs and a real image, so that peaks
    # reflect steady state (buffers, lazily imported code) before we measure.
    with ThreadPoolExecutor(8) as pool:
        warm = list(pool.map(lambda d: upload(local.base_url, d).status_code, largest * 4))
    assert warm == [400] * 8
    assert upload(local.base_url, images.jpeg((1600, 1200))).status_code == 202
    before = {m.pid: m.peak_kib for m in process_memory(local.server.pid)}

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda d: upload(local.base_url, d).status_code, bombs))

    after = {m.pid: m.peak_kib for m in process_memory(local.server.pid)}
    assert statuses == [400] * 50
    assert set(after) == set(before), "a server process was replaced: its peak would reset"
    growth = {pid: after[pid] - before[pid] for pid in before}
    assert max(growth.values()) <= PEAK_GROWTH_KIB, f"peak RSS (KiB) {before} -> {after}"
