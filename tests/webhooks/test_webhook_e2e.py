"""End to end: simulator changes -> the simulator's webhook sender -> the receiver -> the
inbox holds exactly the distinct notifications sent, once each; a receiver that is down
for two delivery attempts loses nothing (the third attempt lands, counted once); and the
same over a real socket (uvicorn on a free loopback port)."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import orjson
import pytest
import uvicorn
from sqlalchemy import text

from pipelines.webhooks.notification import dedup_key
from pipelines.webhooks.receiver import create_receiver_app
from pipelines.webhooks.server import server_config

from .conftest import SECRET, run

simulator = pytest.importorskip("pipelines.simulator")
PATH = "/tampuuri/webhook"


class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes deliveries to the receiver, failing the first `down_for` as if it were down."""

    def __init__(self, inner: httpx.AsyncBaseTransport, down_for: int = 0) -> None:
        self.inner, self.down_for, self.bodies = inner, down_for, []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(orjson.loads(await request.aread()))
        if len(self.bodies) <= self.down_for:
            raise httpx.ConnectError("receiver down", request=request)
        return await self.inner.handle_async_request(request)


def _make_sim(**kwargs):
    config = simulator.SimulatorConfig(
        seed=3, scale=80, accounts=("demo-a",), webhook_retry_delays_s=(0.0,)
    )
    return simulator.Simulator(config, **kwargs)


async def _drive(sim, url, changes, flushes):
    transport = httpx.ASGITransport(app=sim.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as admin:
        listener = {
            "account": "demo-a",
            "url": url,
            "events": None,
            "secret_header": {"name": "X-Webhook-Secret", "value": SECRET},
        }
        assert (await admin.post("/_sim/webhooks/listeners", json=listener)).status_code == 201
        response = await admin.post(
            "/_sim/changes/random", json={"account": "demo-a", "count": changes, "seed": 11}
        )
        assert len(response.json()["changes"]) == changes
        update = {"account": "demo-a", "resource": "ilmoitukset", "op": "insert", "fields": {}}
        assert (await admin.post("/_sim/changes", json=update)).status_code == 200
        outcomes = []
        for _ in range(flushes):
            flushed = (await admin.post("/_sim/webhooks/flush")).json()["deliveries"]
            outcomes.extend(entry["outcome"] for entry in flushed)
        return outcomes


def _inbox_keys(engine):
    with engine.connect() as conn:
        return conn.execute(text("SELECT dedup_key, attempts_seen FROM ops.webhook_inbox")).all()


def _sent_keys(bodies):
    return {dedup_key(n) for body in bodies for n in body["Notifications"]}


def test_simulator_to_inbox_with_receiver_down_for_two_attempts(engine, settings, mapping):
    receiver = create_receiver_app(engine, settings, mapping=mapping)
    recorder = RecordingTransport(httpx.ASGITransport(app=receiver), down_for=2)
    sim = _make_sim(webhook_transport=recorder)
    outcomes = run(lambda: _drive(sim, f"http://receiver{PATH}", changes=30, flushes=4))
    assert outcomes == ["retry", "retry", "delivered"]  # one bundle, third attempt lands
    assert [body["Attempts"] for body in recorder.bodies] == [1, 2, 3]
    sent = _sent_keys(recorder.bodies)
    rows = _inbox_keys(engine)
    # the same bundle three times; not every change has an event (a link deletion has none)
    assert all(
        body["Notifications"] == recorder.bodies[0]["Notifications"] for body in recorder.bodies
    )
    assert 20 <= len(sent) == len(recorder.bodies[0]["Notifications"])
    assert len(rows) == len(sent)
    assert {key for key, _ in rows} == sent
    assert {attempts for _, attempts in rows} == {3}


def _free_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.mark.e2e
def test_simulator_to_inbox_over_a_real_socket(engine, settings, mapping):
    receiver = create_receiver_app(engine, settings, mapping=mapping)
    sock = _free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(server_config(receiver, settings, host="127.0.0.1", port=port))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.started
        sim = _make_sim()  # no injected transport: real HTTP to the receiver
        outcomes = run(lambda: _drive(sim, f"http://127.0.0.1:{port}{PATH}", changes=20, flushes=2))
        assert outcomes == ["delivered"]
        delivered = sim.webhooks.deliveries()
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    rows = _inbox_keys(engine)
    assert len(rows) == delivered[0]["notifications"]  # the sender bundles distinct events
