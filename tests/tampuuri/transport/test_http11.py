"""The client's HTTP/1.1 transport (`http11.py`) over real sockets: request bodies, gzipped
and chunked responses, the connection pool's limits, keep-alive expiry, and which
connections are never reused (the server said close, the caller left a body unread, the
request was cancelled)."""

from __future__ import annotations

import asyncio
import gzip

import httpx
import pytest

from pipelines.tampuuri import http11

from .tiny_servers import answering, echo_path, echoing_path, read_request, response, server

pytestmark = pytest.mark.anyio


def _client(transport: http11.Http11Transport, **kwargs: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport, **kwargs)  # type: ignore[arg-type]


def _transport(**limits: object) -> http11.Http11Transport:
    return http11.Http11Transport(limits=httpx.Limits(**limits))  # type: ignore[arg-type]


async def _echo_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Keep-alive: answer each request with its request line and its body."""
    while True:
        head = await read_request(reader)
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n")
             if line.lower().startswith(b"content-length:")),
            0,
        )  # fmt: skip
        body = await reader.readexactly(length)
        writer.write(response(head.split(b"\r\n", 1)[0] + b" " + body))
        await writer.drain()


async def test_a_request_body_arrives_whole_and_the_connection_serves_the_next_call() -> None:
    async with (
        server(_echo_body) as (address, accepted),
        _client(http11.transport(f"http://{address}/")) as http,
    ):
        posted = await http.post(f"http://{address}/selaa", content=b'{"Offset": 250}')
        fetched = await http.get(f"http://{address}/next")
    assert posted.text == 'POST /selaa HTTP/1.1 {"Offset": 250}'
    assert (posted.http_version, posted.reason_phrase) == ("HTTP/1.1", "OK")
    assert fetched.text == "GET /next HTTP/1.1 "
    assert accepted == [1]


async def test_requests_beyond_max_connections_wait_for_a_free_connection() -> None:
    async with (
        server(echoing_path(0.05)) as (address, accepted),
        _client(_transport(max_connections=1)) as http,
    ):
        answers = await asyncio.gather(*(http.get(f"http://{address}/{n}") for n in range(3)))
    assert sorted(a.text for a in answers) == [f"GET /{n} HTTP/1.1" for n in range(3)]
    assert accepted == [1]  # one connection, the requests taking turns on it


async def test_waiting_longer_than_the_pool_timeout_is_a_pool_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    timeout = httpx.Timeout(5.0, pool=0.1)
    async with (
        server(silent) as (address, _),
        _client(_transport(max_connections=1), timeout=timeout) as http,
    ):
        hanging = asyncio.ensure_future(http.get(f"http://{address}/first"))
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout):
            await http.get(f"http://{address}/second")
        hanging.cancel()
        with pytest.raises(asyncio.CancelledError):
            await hanging


async def test_a_cancelled_request_frees_its_connection_slot_and_closes_its_socket() -> None:
    async def first_silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(accepted) == 1:
            await read_request(reader)
            await asyncio.sleep(5)
        await echo_path(reader, writer)

    async with (
        server(first_silent) as (address, accepted),
        _client(_transport(max_connections=1), timeout=httpx.Timeout(5.0, pool=1.0)) as http,
    ):
        hanging = asyncio.ensure_future(http.get(f"http://{address}/first"))
        await asyncio.sleep(0.05)
        hanging.cancel()
        with pytest.raises(asyncio.CancelledError):
            await hanging
        answer = await http.get(f"http://{address}/second")
    assert answer.text == "GET /second HTTP/1.1"
    assert accepted == [1, 2]  # the cancelled request's connection was not reused


async def test_an_idle_connection_older_than_the_keepalive_expiry_is_not_reused() -> None:
    async with (
        server(echo_path) as (address, accepted),
        _client(_transport(keepalive_expiry=0.05)) as http,
    ):
        await http.get(f"http://{address}/a")
        await http.get(f"http://{address}/b")  # at once: reused
        await asyncio.sleep(0.15)
        await http.get(f"http://{address}/c")
    assert accepted == [1, 2]


async def test_a_connection_the_server_asked_to_close_is_not_reused() -> None:
    async def close_each(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(response(b"bye", close=True))
        await writer.drain()
        await asyncio.sleep(1)  # the server does not hang up first: the client must not reuse

    async with (
        server(close_each) as (address, accepted),
        _client(http11.transport(f"http://{address}/")) as http,
    ):
        assert (await http.get(f"http://{address}/")).text == "bye"
        assert (await http.get(f"http://{address}/")).text == "bye"
    assert accepted == [1, 2]


async def test_a_body_left_unread_closes_its_connection() -> None:
    body = b"x" * 100_000
    async with (
        server(answering(body)) as (address, accepted),
        _client(http11.transport(f"http://{address}/")) as http,
    ):
        async with http.stream("GET", f"http://{address}/") as streamed:
            async for _ in streamed.aiter_raw():
                break  # the caller stops after the first chunk
        whole = await http.get(f"http://{address}/")
    assert whole.content == body
    assert accepted == [1, 2]


async def test_idle_connections_beyond_the_keepalive_limit_are_closed() -> None:
    async with (
        server(echoing_path(0.05)) as (address, accepted),
        _client(_transport(max_keepalive_connections=1)) as http,
    ):
        await asyncio.gather(*(http.get(f"http://{address}/{n}") for n in range(2)))
        await asyncio.gather(*(http.get(f"http://{address}/{n}") for n in range(2)))
    assert accepted == [1, 2, 3]  # two at once, one kept: the second pair opened one more


async def test_a_scheme_other_than_http_is_refused() -> None:
    async with _client(http11.transport("http://127.0.0.1/")) as http:
        with pytest.raises(httpx.UnsupportedProtocol):
            await http.get("ftp://127.0.0.1/file")


async def test_a_connection_coming_back_after_the_transport_closed_is_closed() -> None:
    hung_up = asyncio.Event()

    async def answer_then_watch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(response(b"late"))
        await writer.drain()
        if await reader.read() == b"":  # the client closed its side
            hung_up.set()

    transport = http11.transport("http://127.0.0.1/")
    async with server(answer_then_watch) as (address, _), _client(transport) as http:
        async with http.stream("GET", f"http://{address}/") as streamed:
            await transport.aclose()  # while the response is still open
            assert await streamed.aread() == b"late"
        await asyncio.wait_for(hung_up.wait(), 2)


async def test_a_gzipped_body_is_decoded_as_httpx_decodes_it() -> None:
    body = b'{"Items": [], "Total": 0}' * 100
    packed = gzip.compress(body)

    async def gzipped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(packed)}\r\nContent-Encoding: gzip\r\n\r\n"
        writer.write(head.encode() + packed)
        await writer.drain()

    async with (
        server(gzipped) as (address, _),
        _client(http11.transport(f"http://{address}/")) as http,
    ):
        answer = await http.get(f"http://{address}/", headers={"Accept-Encoding": "gzip"})
    assert answer.headers["Content-Encoding"] == "gzip"
    assert answer.content == body


async def test_a_chunked_body_arrives_whole_and_the_connection_is_reused() -> None:
    parts = [b'{"Items": [', b"1, 2, 3", b'], "Total": 3}']

    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for part in parts:
                writer.write(b"%x\r\n%b\r\n" % (len(part), part))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    async with (
        server(chunked) as (address, accepted),
        _client(http11.transport(f"http://{address}/")) as http,
    ):
        first = await http.get(f"http://{address}/a")
        second = await http.get(f"http://{address}/b")
    assert first.content == second.content == b"".join(parts)
    assert accepted == [1]
