"""A tiny HTTP forward proxy for the proxy tests: CONNECT tunnels (https APIs) and
absolute-URI requests (http APIs), each request counted by what it asked for."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class ProxyLog:
    """What passed through the proxy: one entry per request, e.g. "CONNECT 127.0.0.1:4431"
    or "GET http://127.0.0.1:8000/v10/api/kustannuspaikat/selaa"; and the
    Proxy-Authorization headers seen."""

    requests: list[str] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


def _header(head: bytes, name: bytes) -> str | None:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip().decode("latin-1")
    return None


async def _forward(head: bytes, body: bytes, target: str) -> bytes:
    """Send one absolute-URI request on to its origin (origin-form, Connection: close) and
    return the whole answer."""
    parts = urlsplit(target)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    method, _, version = head.split(b"\r\n", 1)[0].split(b" ")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [b" ".join([method, path.encode(), version])]
    for line in head.split(b"\r\n")[1:]:
        name = line.partition(b":")[0].strip().lower()
        if line and name not in (b"connection", b"proxy-authorization", b"proxy-connection"):
            lines.append(line)
    lines.append(b"Connection: close")
    writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
    await writer.drain()
    answer = await reader.read(-1)
    writer.close()
    return answer


@contextlib.asynccontextmanager
async def forward_proxy() -> AsyncIterator[tuple[str, ProxyLog]]:
    """Run the proxy on 127.0.0.1 (a free port); yields its URL and its log."""
    log = ProxyLog()
    tunnels: set[asyncio.Task[None]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
                log.requests.append(f"{method} {target}")
                if (auth := _header(head, b"proxy-authorization")) is not None:
                    log.authorizations.append(auth)
                if method == "CONNECT":
                    host, _, port = target.rpartition(":")
                    up_reader, up_writer = await asyncio.open_connection(host, int(port))
                    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    await writer.drain()
                    task = asyncio.ensure_future(_pipe(up_reader, writer))
                    tunnels.add(task)
                    await _pipe(reader, up_writer)
                    return
                body = await reader.readexactly(int(_header(head, b"content-length") or 0))
                writer.write(await _forward(head, body, target))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", log
    finally:
        server.close()
        for task in tunnels:
            task.cancel()
