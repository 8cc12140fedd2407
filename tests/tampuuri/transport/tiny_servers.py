"""Small asyncio servers for the transport tests (HTTP/1.1, and HTTP/2 over TLS): each
test controls exactly what the peer does."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def response(body: bytes, *, close: bool = False) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nContent-Type: text/plain\r\n"
    return (head + ("Connection: close\r\n" if close else "") + "\r\n").encode() + body


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's head (its body, if any, is left in the reader)."""
    return await reader.readuntil(b"\r\n\r\n")


@asynccontextmanager
async def server(
    handler: Handler, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[str, list[int]]]:
    """Serve on a free port; yields (host:port, connections accepted so far)."""
    accepted: list[int] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(len(accepted) + 1)
        try:
            await handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    listener = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=ssl_context)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}", accepted
    finally:
        listener.close()


def echoing_path(delay: float = 0.0) -> Handler:
    """Keep-alive: answer each request with its own request line, `delay` seconds later."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await read_request(reader)
            if delay:
                await asyncio.sleep(delay)
            writer.write(response(head.split(b"\r\n", 1)[0]))
            await writer.drain()

    return handler


echo_path = echoing_path()


def answering(body: bytes) -> Handler:
    """Keep-alive: answer every request with `body`."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(response(body))
            await writer.drain()

    return handler


def h2_or_http11(body: bytes, seen: list[tuple[str, dict[bytes, bytes]]]) -> Handler:
    """Over TLS: answer every request with `body` as JSON, in HTTP/2 when the client chose h2
    in the handshake (ALPN), else in HTTP/1.1; `seen` gets (protocol, request headers)."""
    import h2.config
    import h2.connection
    import h2.events

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        protocol = writer.get_extra_info("ssl_object").selected_alpn_protocol() or "http/1.1"
        if protocol != "h2":
            while True:
                head = await read_request(reader)
                lines = head.split(b"\r\n")[1:]
                headers = dict(line.split(b": ", 1) for line in lines if b": " in line)
                seen.append((protocol, {k.lower(): v for k, v in headers.items()}))
                writer.write(response(body))
                await writer.drain()
        connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        connection.initiate_connection()
        writer.write(connection.data_to_send())
        while data := await reader.read(65536):
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    seen.append((protocol, {bytes(k): bytes(v) for k, v in event.headers}))
                    answer = [(":status", "200"), ("content-length", str(len(body)))]
                    connection.send_headers(event.stream_id, answer)
                    connection.send_data(event.stream_id, body, end_stream=True)
            writer.write(connection.data_to_send())
            await writer.drain()

    return handler
