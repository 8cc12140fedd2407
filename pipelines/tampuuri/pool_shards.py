"""The client's connections each in a pool of its own (httpx's own transport in each).

httpcore 1.0's pool scans all its connections on every request it queues or releases,
and for each idle one counts them all again (encode/httpcore#1035, open), so its
bookkeeping per request grows with the square of its size: at 16 connections it was the
largest CPU cost of a sync's event loop after parsing and encoding pages. Each pass also
asks every idle connection whether the server closed it (a `getpeername` and a `poll`
system call per connection, through anyio), so even pools of 4 cost ~5.8 such checks per
request. `PoolShards` gives each connection a pool of one and sends each request to the
pool with the fewest requests open: a pass looks at one connection, ~2 checks a request
(a 100k-row sync: 4,311 -> 1,471 `getpeername` calls, benchmarks/RESULTS.md). Over
HTTP/2 the client builds one pool instead: one connection multiplexes the calls. The
proxy, TLS and HTTP/2 options are those of each pool alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from pipelines.tampuuri.body_release import on_body_closed


class PoolShards(httpx.AsyncBaseTransport):
    """Sends each request through the pool with the fewest requests open (body included)."""

    def __init__(self, shards: Sequence[httpx.AsyncBaseTransport]) -> None:
        if not shards:
            raise ValueError("PoolShards needs at least one transport")
        self._shards = list(shards)
        self._open = [0] * len(self._shards)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = min(range(len(self._shards)), key=self._open.__getitem__)
        self._open[index] += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._open[index] -= 1

        try:
            response = await self._shards[index].handle_async_request(request)
        except BaseException:
            release()
            raise
        return on_body_closed(response, release)

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()
