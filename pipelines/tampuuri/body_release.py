"""`on_body_closed`: run a release when a response's body is closed, not when its headers
arrive: a connection carries the next call only once the body before it is read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx


class _Released(httpx.AsyncByteStream):
    """A response body that calls `release` once, when it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._stream:
            yield part

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


def on_body_closed(response: httpx.Response, release: Callable[[], None]) -> httpx.Response:
    """`response`, with `release` called when its body is closed (at once if it already
    is, as a test's MockTransport answers). The caller releases on a failed send itself."""
    if response.is_closed:
        release()
    else:
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Released(response.stream, release)
    return response
