"""HTTP/1.1 for the client: an httpx transport with a keep-alive pool, on h11 and network.py.

httpx's own transport sends through httpcore's connection pool, which is built for many
origins, HTTP/2 and proxies: per request it makes an anyio event, takes a thread lock,
scans every pooled connection and may hand one connection to several waiting requests,
all but one of which then go round again. Against the simulator that pool cost about
0.35 ms of CPU a call (0.62-1.06 ms a call through it, 0.32-0.55 ms through this
transport, for one-page object lists): at 7,400 calls a sync, seconds of a CPU-bound
process (benchmarks/RESULTS.md).

This transport does what the client needs and nothing more. Connections are
`network.AsyncioStream`s (the socket layer: plain TCP or TLS); the protocol is h11's
state machine, the same one httpcore runs. An idle connection is reused while it is
younger than the keep-alive expiry and the server has not closed it; one that ends in
any other state than a complete exchange is closed, never reused. Timeouts come from the
request's `timeout` extension (httpx.Timeout.as_dict()). Errors are httpx's: the client's
retry policy sees the same ConnectError / ReadTimeout / RemoteProtocolError as before.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import h11
import httpcore
import httpx

from pipelines.tampuuri.network import HIGH_WATER, AsyncioBackend

DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
# Bytes asked of the socket layer at a time: a 250-row page (~130 KB) is a read or two.
READ_BYTES = HIGH_WATER

# The socket layer raises httpcore's exceptions (it implements httpcore's backend
# interface); h11 raises its own. Each becomes the httpx exception httpx would raise.
_ERRORS: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    h11.RemoteProtocolError: httpx.RemoteProtocolError,
    h11.LocalProtocolError: httpx.LocalProtocolError,
}


class _Origin(NamedTuple):
    scheme: str
    host: str
    port: int


class _Connection:
    """One socket and its h11 state machine; used by one request at a time."""

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self.stream = stream
        self.protocol = h11.Connection(h11.CLIENT)
        self.idle_since = 0.0

    async def send(self, request: httpx.Request, timeouts: dict[str, Any]) -> h11.Response:
        """Write the request, then read up to the response's head."""
        protocol = self.protocol
        url = request.url
        head = h11.Request(method=request.method, target=url.raw_path, headers=request.headers.raw)
        out = [protocol.send(head)]
        async for chunk in request.stream:  # type: ignore[union-attr]  # (an async stream here)
            if chunk:
                out.append(protocol.send(h11.Data(data=chunk)))
        out.append(protocol.send(h11.EndOfMessage()))
        await self.stream.write(b"".join(out), timeouts.get("write"))
        while True:
            event = await self.next_event(timeouts.get("read"))
            if isinstance(event, h11.Response):
                return event
            # (an InformationalResponse, e.g. 100 Continue: the final answer follows)

    async def next_event(self, timeout: float | None) -> Any:
        protocol = self.protocol
        while True:
            event = protocol.next_event()
            if event is not h11.NEED_DATA:
                return event
            protocol.receive_data(await self.stream.read(READ_BYTES, timeout))

    @property
    def reusable(self) -> bool:
        """Both sides completed the exchange and neither asked to close."""
        return self.protocol.our_state is h11.DONE and self.protocol.their_state is h11.DONE


class Http11Transport(httpx.AsyncBaseTransport):
    """An httpx transport: HTTP/1.1 with keep-alive over `network.AsyncioBackend`.

    Args:
        ssl_context: what https connections verify against; None: httpx's default
            (certifi's CA bundle, SSL_CERT_FILE / SSL_CERT_DIR honoured).
        limits: connections open at once (a request waits for one; the `pool` timeout
            bounds that wait), idle connections kept, and how long they stay reusable.
    """

    def __init__(
        self, *, ssl_context: ssl.SSLContext | None = None, limits: httpx.Limits = DEFAULT_LIMITS
    ) -> None:
        self._ssl_context = ssl_context if ssl_context is not None else httpx.create_ssl_context()
        self._slots = asyncio.Semaphore(limits.max_connections or 2**31)
        self._max_idle = limits.max_keepalive_connections
        self._expiry = limits.keepalive_expiry
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._backend = AsyncioBackend()
        self._closed = False  # after aclose(): connections coming back are closed

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        await _acquire(self._slots, timeouts.get("pool"), request)
        try:
            origin = _origin(request.url)
            with _httpx_errors(request):
                connection = await self._reused(origin) or await self._connect(origin, timeouts)
                try:
                    head = await connection.send(request, timeouts)
                except BaseException:
                    await connection.stream.aclose()
                    raise
        except BaseException:
            self._slots.release()
            raise
        return httpx.Response(
            head.status_code,
            headers=head.headers.raw_items(),
            stream=_Body(self, origin, connection, request, timeouts.get("read")),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": head.reason},
        )

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                await connection.stream.aclose()

    async def _reused(self, origin: _Origin) -> _Connection | None:
        """An idle connection to `origin` still fit for a request, if any (the newest)."""
        idle = self._idle.get(origin)
        now = asyncio.get_running_loop().time()
        while idle:
            connection = idle.pop()
            expired = self._expiry is not None and now - connection.idle_since > self._expiry
            # Readable while idle: the server closed it (or sent what nobody asked for).
            if expired or connection.stream.get_extra_info("is_readable"):
                await connection.stream.aclose()
                continue
            return connection
        return None

    async def _connect(self, origin: _Origin, timeouts: dict[str, Any]) -> _Connection:
        timeout = timeouts.get("connect")
        stream = await self._backend.connect_tcp(origin.host, origin.port, timeout=timeout)
        if origin.scheme == "https":
            stream = await stream.start_tls(
                self._ssl_context, server_hostname=origin.host, timeout=timeout
            )
        return _Connection(stream)

    async def _release(self, origin: _Origin, connection: _Connection) -> None:
        """A request is over: keep its connection for the next one, or close it."""
        self._slots.release()
        idle = self._idle.setdefault(origin, [])
        room = self._max_idle is None or len(idle) < self._max_idle
        if connection.reusable and room and not self._closed:
            connection.protocol.start_next_cycle()
            connection.idle_since = asyncio.get_running_loop().time()
            idle.append(connection)
        else:
            await connection.stream.aclose()


class _Body(httpx.AsyncByteStream):
    """A response body read from its connection as the caller iterates; closing it hands
    the connection back (complete exchange) or closes it (anything else)."""

    def __init__(
        self,
        transport: Http11Transport,
        origin: _Origin,
        connection: _Connection,
        request: httpx.Request,
        read_timeout: float | None,
    ) -> None:
        self._transport = transport
        self._origin = origin
        self._connection: _Connection | None = connection
        self._request = request
        self._read_timeout = read_timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            raise httpx.StreamClosed()
        with _httpx_errors(self._request):
            while True:
                event = await connection.next_event(self._read_timeout)
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    return

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await self._transport._release(self._origin, connection)


def transport(base_url: str) -> Http11Transport:
    """The default transport for an account's API at `base_url`.

    Loading the CA bundle costs tens of milliseconds, a tenth of a small account's sync:
    an http:// API (the simulator, a local proxy) gets a TLS context that trusts nothing
    instead, which is never used, and would refuse any certificate if it were.
    """
    if httpx.URL(base_url).scheme == "https":
        return Http11Transport()
    return Http11Transport(ssl_context=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))


def _origin(url: httpx.URL) -> _Origin:
    if url.scheme not in ("http", "https"):
        raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
    return _Origin(url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))


async def _acquire(slots: asyncio.Semaphore, timeout: float | None, request: httpx.Request) -> None:
    """A connection slot for `request`, waiting at most `timeout` seconds."""
    if timeout is None:
        await slots.acquire()
        return
    try:
        async with asyncio.timeout(timeout):
            await slots.acquire()
    except TimeoutError:
        raise httpx.PoolTimeout("no connection free in the pool timeout", request=request) from None


@contextmanager
def _httpx_errors(request: httpx.Request) -> Iterator[None]:
    """Socket-layer and protocol errors as httpx's (`_ERRORS`), carrying the request."""
    try:
        yield
    except tuple(_ERRORS) as exc:
        error = next(e for kind, e in _ERRORS.items() if isinstance(exc, kind))
        raise error(str(exc) or type(exc).__name__, request=request) from exc
