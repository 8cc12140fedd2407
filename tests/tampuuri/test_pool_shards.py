"""The client's connections each in a pool of its own (`pipelines/tampuuri/pool_shards.py`).

- Each request goes to the pool with the fewest requests open; a request stays open until
  its body is closed, and one that fails releases its pool at once.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from pipelines.tampuuri.pool_shards import PoolShards

pytestmark = pytest.mark.anyio


class Chunks(httpx.AsyncByteStream):
    """A body the transport has not read yet (as a socket's)."""

    async def __aiter__(self):
        yield b'{"pool": '
        yield b"1}"


def streaming(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, stream=Chunks())


async def test_requests_go_to_the_pool_with_the_fewest_open_until_their_body_closes() -> None:
    seen: list[int] = []
    answer = asyncio.Event()

    def pool(number: int) -> httpx.MockTransport:
        async def handler(request: httpx.Request) -> httpx.Response:
            seen.append(number)
            await answer.wait()
            return httpx.Response(200, json={"pool": number})

        return httpx.MockTransport(handler)

    shards = PoolShards([pool(0), pool(1)])
    async with httpx.AsyncClient(transport=shards) as http:
        tasks = [asyncio.create_task(http.get("http://t/x")) for _ in range(4)]
        for _ in range(100):
            if len(seen) == 4:
                break
            await asyncio.sleep(0.01)
        assert sorted(seen) == [0, 0, 1, 1]  # two open in each
        answer.set()
        await asyncio.gather(*tasks)
        assert shards._open == [0, 0]  # bodies read and closed: nothing open
        shards = PoolShards([httpx.MockTransport(streaming), httpx.MockTransport(streaming)])
        async with (
            httpx.AsyncClient(transport=shards) as other,
            other.stream("GET", "http://t/x") as streamed,
        ):
            assert shards._open in ([1, 0], [0, 1])  # open while its body is unread
            await streamed.aread()
        assert shards._open == [0, 0]


async def test_a_failed_request_releases_its_pool() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    shards = PoolShards([httpx.MockTransport(refuse)])
    async with httpx.AsyncClient(transport=shards) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("http://t/x")
    assert shards._open == [0]
