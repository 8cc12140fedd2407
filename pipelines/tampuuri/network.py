"""The socket layer under the client's HTTP: a network backend on asyncio's own transports.

httpx sends through httpcore, whose default network backend on asyncio is anyio's socket
streams. Each call there pays for cancel scopes around every read and write, and for a
`select.poll` system call on every idle pooled connection each time the pool hands out a
connection (httpcore asks whether the server has closed it). Measured against the
simulator, that backend was about a sixth of the sync process's CPU per call.

This backend implements httpcore's documented `AsyncNetworkBackend` interface on an
`asyncio.Protocol`: reads wait on one future with one timer for their timeout, writes go
straight to the transport (waiting only when its buffer is full), and "has the server
closed this idle connection?" is answered from what the protocol already knows (end of
stream, or bytes arrived that nobody asked for), without a system call. TLS is asyncio's
`start_tls`. Errors are httpcore's exceptions.

The client's transport (`http11.py`) speaks HTTP/1.1 over these streams and raises
httpx's exceptions for them: the client's retry policy sees ReadTimeout, ConnectError,
ReadError.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from typing import Any, cast

import httpcore

# Bytes buffered from the socket before reading pauses (a 250-row page is ~130 KB; the
# transport, http11.py, asks for up to this much at a time).
HIGH_WATER = 256 * 1024


class _StreamProtocol(asyncio.Protocol):
    """Buffers what the socket delivers and wakes the one reader waiting for it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False  # the peer closed its side, or the connection is lost
        self.error: BaseException | None = None
        self.reader: asyncio.Future[None] | None = None
        self.drained: asyncio.Future[None] | None = None  # set while writing is paused
        self.reading_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports implement asyncio.Transport without subclassing it)
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and not self.reading_paused and self.transport:
            self.reading_paused = True
            self.transport.pause_reading()
        self._wake(self.reader)

    def eof_received(self) -> bool:
        self.eof = True
        self._wake(self.reader)
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake(self.reader)
        self._wake(self.drained)

    def pause_writing(self) -> None:
        self.drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        self._wake(self.drained)
        self.drained = None

    @staticmethod
    def _wake(future: asyncio.Future[None] | None) -> None:
        if future is not None and not future.done():
            future.set_result(None)


async def _wait(
    future: asyncio.Future[None], timeout: float | None, error: type[Exception]
) -> None:
    """Await `future`; after `timeout` seconds it fails with `error` instead."""
    if timeout is None:
        await future
        return
    timer = asyncio.get_running_loop().call_later(timeout, _expire, future, error)
    try:
        await future
    finally:
        timer.cancel()


def _expire(future: asyncio.Future[None], error: type[Exception]) -> None:
    if not future.done():
        future.set_exception(error(f"no progress in the timeout ({error.__name__})"))


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection: httpcore reads and writes through it."""

    def __init__(self, transport: asyncio.Transport, protocol: _StreamProtocol) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Up to `max_bytes` buffered bytes, waiting for some; b"" at end of stream.

        Raises:
            httpcore.ReadTimeout: nothing arrived within `timeout`.
            httpcore.ReadError: the connection broke.
        """
        protocol = self._protocol
        if not protocol.buffer and not protocol.eof:
            protocol.reader = asyncio.get_running_loop().create_future()
            try:
                await _wait(protocol.reader, timeout, httpcore.ReadTimeout)
            finally:
                protocol.reader = None
        buffer = protocol.buffer
        if not buffer:
            if protocol.error is not None:
                raise httpcore.ReadError(f"connection lost: {type(protocol.error).__name__}")
            return b""
        data = bytes(buffer[:max_bytes])
        del buffer[:max_bytes]
        if protocol.reading_paused and len(buffer) <= HIGH_WATER // 2:
            protocol.reading_paused = False
            self._transport.resume_reading()
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send `buffer`; waits only while the transport's write buffer is full.

        Raises:
            httpcore.WriteError: the connection is closed or broke.
            httpcore.WriteTimeout: the buffer did not drain within `timeout`.
        """
        if not buffer:
            return
        if self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)
        if self._protocol.drained is not None:
            await _wait(self._protocol.drained, timeout, httpcore.WriteTimeout)
            if self._protocol.error is not None:
                raise httpcore.WriteError(f"connection lost: {type(self._protocol.error).__name__}")

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Upgrade to TLS (https): the same protocol object, asyncio's TLS transport.

        Raises:
            httpcore.ConnectTimeout: the handshake took longer than `timeout`.
            httpcore.ConnectError: the handshake failed (certificate, protocol).
        """
        loop = asyncio.get_running_loop()
        try:
            transport = await loop.start_tls(
                self._transport,
                self._protocol,
                ssl_context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout,
            )
        except TimeoutError as exc:
            self._transport.close()
            raise httpcore.ConnectTimeout("TLS handshake timed out") from exc
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(f"TLS handshake failed: {exc}") from exc
        if transport is None:  # the peer closed during the handshake
            raise httpcore.ConnectError("TLS handshake failed: connection closed")
        return AsyncioStream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # Asked of idle pooled connections: readable means the server closed it (or
            # sent bytes nobody asked for); either way the pool must not reuse it.
            return bool(self._protocol.buffer) or self._protocol.eof
        names = {
            "ssl_object": "ssl_object",
            "client_addr": "sockname",
            "server_addr": "peername",
            "socket": "socket",
        }
        return self._transport.get_extra_info(names[info]) if info in names else None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens `AsyncioStream`s: httpcore's network backend on asyncio transports."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect (asyncio sets TCP_NODELAY on TCP sockets).

        Raises:
            httpcore.ConnectTimeout, httpcore.ConnectError.
        """
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _StreamProtocol, host, port, local_addr=local
                )
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        sock = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(transport, protocol)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_unix_connection(_StreamProtocol, path)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"connecting to {path} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot connect to {path}: {exc}") from exc
        return AsyncioStream(transport, protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
