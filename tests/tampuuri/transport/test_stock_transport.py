"""The client's default transport (httpx's own AsyncHTTPTransport) over real sockets,
against small servers the tests run (tiny_servers.py): calls share one kept-alive
connection, gzipped and chunked answers arrive whole, a connection the server closed while
idle is replaced without a failed call, the pools hold as many connections as the client
has calls in flight (pools of up to 4 side by side, each connection kept alive), and a
silent server is a ReadTimeout retried until attempts run out (each attempt ledgered)."""

from __future__ import annotations

import asyncio
import gzip

import httpx
import orjson
import pytest

from pipelines.tampuuri.catalogue import Route
from pipelines.tampuuri.errors import TampuuriUnavailable
from pipelines.tampuuri.ledger import CallLedger

from .conftest import ClientFor
from .tiny_servers import answering, read_request, response, server

pytestmark = pytest.mark.anyio

DETAIL = Route("GET", "kohteet/{kohde_id}")
BODY = orjson.dumps({"Id": 7, "Nimi": "As Oy Äijälä"})


def api(address: str) -> str:
    return f"http://{address}/v10/api/"


async def test_calls_share_one_kept_alive_connection(client_for: ClientFor) -> None:
    async with (
        server(answering(BODY)) as (address, accepted),
        client_for(api(address)) as client,
    ):
        for n in range(3):
            assert await client.call(DETAIL, path_params={"kohde_id": n}) == orjson.loads(BODY)
    assert accepted == [1]
    assert client.calls == 3


async def test_a_gzipped_answer_is_decoded(client_for: ClientFor) -> None:
    packed = gzip.compress(BODY)
    asked: list[bytes] = []

    async def gzipped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        asked.append(await read_request(reader))
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(packed)}\r\nContent-Encoding: gzip\r\n\r\n"
        writer.write(head.encode() + packed)
        await writer.drain()

    async with server(gzipped) as (address, _), client_for(api(address)) as client:
        assert await client.call(DETAIL, path_params={"kohde_id": 7}) == orjson.loads(BODY)
    assert b"\r\naccept-encoding: gzip, deflate\r\n" in asked[0].lower()


async def test_a_chunked_answer_arrives_whole_and_the_connection_is_reused(
    client_for: ClientFor,
) -> None:
    parts = [BODY[:5], BODY[5:11], BODY[11:]]

    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for part in parts:
                writer.write(b"%x\r\n%b\r\n" % (len(part), part))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    async with server(chunked) as (address, accepted), client_for(api(address)) as client:
        for n in range(2):
            assert await client.call(DETAIL, path_params={"kohde_id": n}) == orjson.loads(BODY)
    assert accepted == [1]


async def test_an_idle_connection_the_server_closed_is_replaced_without_a_failed_call(
    client_for: ClientFor,
) -> None:
    async def one_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(response(BODY))  # keep-alive promised, then closed anyway
        await writer.drain()

    ledger = CallLedger(None)
    async with (
        server(one_then_close) as (address, accepted),
        client_for(api(address), ledger=ledger) as client,
    ):
        await client.call(DETAIL, path_params={"kohde_id": 1})
        await asyncio.sleep(0.05)  # the server's FIN arrives while the connection idles
        await client.call(DETAIL, path_params={"kohde_id": 2})
    assert accepted == [1, 2]
    assert (client.calls, client.retries, ledger.counts_by_status()) == (2, 0, {200: 2})


async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers each request of its connection after 50 ms."""
    while True:
        await read_request(reader)
        await asyncio.sleep(0.05)
        writer.write(response(BODY))
        await writer.drain()


async def test_the_pool_holds_as_many_connections_as_calls_in_flight(
    client_for: ClientFor,
) -> None:
    async with (
        server(slow) as (address, accepted),
        client_for(api(address), max_concurrency=2) as client,
    ):
        await client.call(DETAIL, path_params={"kohde_id": 0})  # goes alone (first answer)
        await asyncio.gather(*(client.call(DETAIL, path_params={"kohde_id": n}) for n in range(6)))
    assert accepted == [1, 2]
    assert client.calls == 7


async def test_pools_side_by_side_reuse_their_connections(client_for: ClientFor) -> None:
    """8 calls in flight: eight pools of one (pool_shards.py), 8 connections kept alive."""
    async with (
        server(slow) as (address, accepted),
        client_for(api(address), max_concurrency=8) as client,
    ):
        await client.call(DETAIL, path_params={"kohde_id": 0})  # goes alone (first answer)
        for _ in range(3):
            await asyncio.gather(
                *(client.call(DETAIL, path_params={"kohde_id": n}) for n in range(8))
            )
    assert accepted == list(range(1, 9))
    assert client.calls == 25


async def test_a_silent_server_is_a_read_timeout_retried_until_attempts_run_out(
    client_for: ClientFor,
) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    ledger = CallLedger(None)
    timeout = httpx.Timeout(0.1)
    async with (
        server(silent) as (address, _),
        client_for(api(address), ledger=ledger, max_attempts=3, timeout=timeout) as client,
    ):
        with pytest.raises(
            TampuuriUnavailable, match="gave up after 3 attempts; last: ReadTimeout"
        ):
            await client.call(DETAIL, path_params={"kohde_id": 1})
    assert (client.calls, client.retries, ledger.counts_by_status()) == (3, 2, {None: 3})
