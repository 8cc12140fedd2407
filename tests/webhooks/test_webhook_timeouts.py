"""The receiver over a real socket, as `webhooks serve` runs it (server_config): a client that
sends half its headers and stalls, or opens a connection and sends nothing, is disconnected
within the header timeout; one that sends its headers and half the body gets 408 within
the body timeout and its connection is closed; a client that disconnects mid-body costs
one log line, no traceback; and the connection serves a next request normally.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import orjson
import pytest
import uvicorn
from pydantic import SecretStr

from pipelines.webhooks.receiver import create_receiver_app
from pipelines.webhooks.server import server_config
from pipelines.webhooks.settings import ReceiverSettings

from .conftest import SECRET, bundle, count, notification

HEADER_TIMEOUT_S = 0.5
BODY_TIMEOUT_S = 0.8
SLACK_S = 2.0  # a loaded CI machine; the stall itself would last for ever


@pytest.fixture
def port(engine, mapping) -> Iterator[int]:
    settings = ReceiverSettings(
        secrets=(SecretStr(SECRET),),
        header_timeout_s=HEADER_TIMEOUT_S,
        body_timeout_s=BODY_TIMEOUT_S,
    )
    app = create_receiver_app(engine, settings, mapping=mapping)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(server_config(app, settings, host="127.0.0.1", port=0))
    # uvicorn's logging config keeps its loggers to itself: let caplog see them.
    logging.getLogger("uvicorn").propagate = True
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    logging.getLogger("uvicorn").propagate = False


def _connect(port: int) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port), timeout=HEADER_TIMEOUT_S + SLACK_S + 5)
    return client


def _read_until_closed(client: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    started = time.monotonic()
    received = b""
    while chunk := client.recv(65536):
        received += chunk
    return received, time.monotonic() - started


def _headers(length: int) -> bytes:
    return (
        f"POST /tampuuri/webhook HTTP/1.1\r\nHost: receiver\r\nX-Webhook-Secret: {SECRET}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def test_half_the_headers_then_a_stall_is_disconnected(port):
    with _connect(port) as client:
        client.sendall(b"POST /tampuuri/webhook HTTP/1.1\r\nHost: receiver\r\nX-Webh")
        received, waited = _read_until_closed(client)
    assert received == b""
    assert HEADER_TIMEOUT_S * 0.9 <= waited < HEADER_TIMEOUT_S + SLACK_S


def test_a_connection_that_sends_nothing_is_disconnected(port):
    with _connect(port) as client:
        received, waited = _read_until_closed(client)
    assert received == b"" and waited < HEADER_TIMEOUT_S + SLACK_S


def test_headers_then_half_the_body_gets_408_and_the_connection_closes(port, engine):
    body = orjson.dumps(bundle(notification(1)))
    with _connect(port) as client:
        started = time.monotonic()
        client.sendall(_headers(len(body)) + body[: len(body) // 2])
        received, _ = _read_until_closed(client)
        waited = time.monotonic() - started
    assert received.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in received.lower()
    assert received.endswith(b'{"Message":"body not received within 0.8 s"}')
    assert BODY_TIMEOUT_S * 0.9 <= waited < BODY_TIMEOUT_S + SLACK_S
    assert count(engine, "SELECT count(*) FROM ops.webhook_inbox") == 0


def test_a_client_gone_mid_body_is_one_log_line(port, engine, caplog):
    body = orjson.dumps(bundle(notification(1)))
    with caplog.at_level(logging.INFO):
        with _connect(port) as client:
            client.sendall(_headers(len(body)) + body[:10])
            time.sleep(0.1)
        time.sleep(0.3)
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in lines] == [
        "webhook from 127.0.0.1: client disconnected before the body was complete"
    ]
    assert not any(r.exc_info for r in caplog.records)
    assert "Traceback" not in caplog.text and SECRET not in caplog.text
    assert count(engine, "SELECT count(*) FROM ops.webhook_inbox") == 0


def test_a_slow_but_steady_request_and_a_kept_alive_next_one_are_served(port, engine):
    body = orjson.dumps(bundle(notification(1)))
    second = orjson.dumps(bundle(notification(2)))
    with _connect(port) as client:
        request = _headers(len(body))
        for i in range(0, len(request), 40):  # headers in pieces, within the deadline
            client.sendall(request[i : i + 40])
            time.sleep(0.02)
        client.sendall(body)
        first = client.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        client.sendall(_headers(len(second)) + second)
        assert client.recv(65536).startswith(b"HTTP/1.1 200 ")
        # Idle after a response: uvicorn's keep-alive timeout (5 s) applies, not ours; but
        # half the headers of a third request stall into the header deadline.
        client.sendall(b"POST /tampuuri/webhook HTTP/1.1\r\n")
        received, waited = _read_until_closed(client)
    assert received == b"" and waited < HEADER_TIMEOUT_S + SLACK_S
    assert count(engine, "SELECT count(*) FROM ops.webhook_inbox") == 2
