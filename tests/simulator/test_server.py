"""The simulator over a real socket (uvicorn in a thread): serves the API, runs the webhook
sender in the background, and the CLI takes the sync's TAMPUURI_* credentials."""

from __future__ import annotations

import time

import httpx
import pytest
from typer.testing import CliRunner

from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.simulator.cli import env_credentials, simulator_app
from pipelines.simulator.server import serve_in_thread

from .helpers import API


@pytest.mark.e2e
def test_serve_in_thread_end_to_end():
    sim = Simulator(
        SimulatorConfig(seed=1, scale=200, webhook_retry_delays_s=(0.0,), webhook_interval_s=0.05)
    )
    received: list[dict] = []
    with serve_in_thread(sim, host="127.0.0.1", port=0) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        headers = sim.credentials("demo-a").headers()
        with httpx.Client(base_url=base_url, headers=headers, timeout=5) as c:
            page = c.get(API + "kustannuspaikat/selaa").json()
            assert page["Total"] == len(sim.items("demo-a", "kustannuspaikat"))
            # The sender posts to a listener on the simulator itself (any 2xx... here 404).
            c.post(
                "/_sim/webhooks/listeners", json={"account": "demo-a", "url": f"{base_url}/nowhere"}
            )
            sim.apply_change("demo-a", "ilmoitukset", "insert")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not received:
                received = c.get("/_sim/webhooks/deliveries").json()["deliveries"]
                time.sleep(0.05)
    assert received and received[0]["status"] == 404 and received[0]["outcome"] == "retry"
    assert sim.transactions("demo-a")[0]["count"] == 1


def test_cli_credentials_from_environment():
    env = {
        "TAMPUURI_API_KEY": "k", "TAMPUURI_CUSTOMER_NAME": "c", "TAMPUURI_ACCOUNT_NAME": "a",
        "TAMPUURI_USERNAME": "u", "TAMPUURI_PASSWORD": "p",
    }  # fmt: skip
    creds = env_credentials(env)
    assert creds is not None and creds.headers()["X-TiliNimi"] == "a"
    assert env_credentials({**env, "TAMPUURI_PASSWORD": ""}) is None
    result = CliRunner().invoke(simulator_app, ["serve", "--faults", "nonsense"])
    assert result.exit_code != 0
