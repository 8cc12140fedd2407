"""The socket layer (`network.py`) under the client's transport, over real sockets: plain
HTTP and TLS, keep-alive connections the server closed, timeouts, refused connections and
bodies larger than the read buffer. Servers here are small asyncio servers in the test's
own loop (`tiny_servers.py`), so each test controls exactly what the peer does."""

from __future__ import annotations

import asyncio
import ssl

import httpx
import pytest
import trustme

from pipelines.tampuuri import http11, network

from .tiny_servers import answering, echo_path, read_request, response, server

pytestmark = pytest.mark.anyio


def _client(transport: httpx.AsyncBaseTransport, **kwargs: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport, **kwargs)  # type: ignore[arg-type]


async def test_plain_http_keeps_the_connection_alive() -> None:
    async with (
        server(echo_path) as (address, accepted),
        _client(http11.transport(f"http://{address}/")) as http,
    ):
        first = await http.get(f"http://{address}/a?x=1")
        second = await http.get(f"http://{address}/b")
    assert (first.status_code, first.text) == (200, "GET /a?x=1 HTTP/1.1")
    assert second.text == "GET /b HTTP/1.1"
    assert accepted == [1]  # one connection served both


async def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    async def one_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(response(b"once"))  # keep-alive promised, then closed anyway
        await writer.drain()

    async with (
        server(one_then_close) as (address, accepted),
        _client(http11.transport(f"http://{address}/")) as http,
    ):
        assert (await http.get(f"http://{address}/")).text == "once"
        await asyncio.sleep(0.05)  # the server's FIN arrives while the connection idles
        assert (await http.get(f"http://{address}/")).text == "once"
    assert accepted == [1, 2]  # the second call opened a new connection: no error


async def test_a_body_larger_than_the_read_buffer_arrives_whole_after_a_pause() -> None:
    body = bytes(range(256)) * (5 * network.HIGH_WATER // 256 + 7)
    async with (
        server(answering(body)) as (address, _),
        _client(http11.transport(f"http://{address}/")) as http,
        http.stream("GET", f"http://{address}/") as streamed,
    ):
        await asyncio.sleep(0.2)  # the body piles up: reading pauses, then resumes
        received = await streamed.aread()
    assert received == body


async def test_a_silent_server_is_a_read_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async with (
        server(silent) as (address, _),
        _client(http11.transport(f"http://{address}/"), timeout=0.2) as http,
    ):
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"http://{address}/")
        assert loop.time() - started < 2


async def test_a_server_that_hangs_up_mid_response_is_an_error() -> None:
    async def truncated(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(response(b"0123456789")[:-4])  # Content-Length promises more

    async with (
        server(truncated) as (address, _),
        _client(http11.transport(f"http://{address}/")) as http,
    ):
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(f"http://{address}/")


async def test_a_refused_connection_is_a_connect_error() -> None:
    async with server(echo_path) as (address, _):
        pass  # the port is free again
    async with _client(http11.transport(f"http://{address}/")) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://{address}/")


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


def _tls_server_context(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return context


async def test_https_verifies_the_server_certificate(authority: trustme.CA) -> None:
    trusted = ssl.create_default_context()
    authority.configure_trust(trusted)
    async with server(echo_path, _tls_server_context(authority)) as (address, accepted):
        transport = http11.Http11Transport(ssl_context=trusted)
        async with _client(transport) as http:
            first = await http.get(f"https://{address}/tls")
            second = await http.get(f"https://{address}/again")
    assert first.text == "GET /tls HTTP/1.1"
    assert second.text == "GET /again HTTP/1.1"
    assert accepted == [1]


@pytest.mark.parametrize(
    "api_scheme",
    [
        # The default transport for an https API trusts the public CAs, not this test CA.
        pytest.param("https", id="https-api"),
        # An http:// API never needs TLS; were https ever reached, nothing would be trusted.
        pytest.param("http", id="http-api"),
    ],
)
async def test_a_certificate_of_an_unknown_authority_is_refused(
    authority: trustme.CA, api_scheme: str
) -> None:
    async with (
        server(echo_path, _tls_server_context(authority)) as (address, _),
        _client(http11.transport(f"{api_scheme}://{address}/")) as http,
    ):
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await http.get(f"https://{address}/")
