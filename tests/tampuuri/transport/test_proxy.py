"""Proxies on the client's stock transport, through a forward proxy the tests run
(forward_proxy.py) to the simulator served by uvicorn: HTTP_PROXY carries an http API's
calls (absolute-URI requests), HTTPS_PROXY an https API's (one CONNECT tunnel, reused), an
account's own proxy wins over the environment, NO_PROXY bypasses the proxy, and proxy
credentials from the environment reach the proxy and are masked like the API's secrets.
Every call is counted at the proxy and at the simulator."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from pipelines.simulator import Simulator
from pipelines.simulator.server import serve_in_thread
from pipelines.tampuuri.catalogue import Route
from pipelines.tampuuri.ledger import CallLedger
from pipelines.tampuuri.network_options import NetworkOptions

from .conftest import ClientFor, Pki, billed
from .forward_proxy import forward_proxy

pytestmark = pytest.mark.anyio

LIST = Route("GET", "kustannuspaikat/selaa")
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sets the proxy variables it is about; none leak in from the machine."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def http_api(sim: Simulator) -> Iterator[str]:
    with serve_in_thread(sim) as origin:
        yield f"{origin}/v10/api/"


@pytest.fixture
def https_api(sim: Simulator, pki: Pki) -> Iterator[str]:
    with serve_in_thread(sim, ssl_certfile=str(pki.server_cert)) as origin:
        yield f"{origin}/v10/api/"


def dead_proxy() -> str:
    """A proxy URL where nothing listens (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def host_port(url: str) -> str:
    return url.split("//")[1].split("/")[0]


async def test_http_proxy_from_the_environment_carries_an_http_apis_calls(
    sim: Simulator, http_api: str, client_for: ClientFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = CallLedger(None)
    async with forward_proxy() as (proxy, seen):
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.setenv("HTTPS_PROXY", dead_proxy())  # not for an http:// API
        async with client_for(http_api, ledger=ledger) as client:
            for offset in (0, 250):
                await client.call(LIST, params={"Offset": offset})
    assert seen.requests == [
        f"GET {http_api}kustannuspaikat/selaa?Offset=0",
        f"GET {http_api}kustannuspaikat/selaa?Offset=250",
    ]
    assert (ledger.records_total, billed(sim)) == (2, 2)


async def test_https_proxy_from_the_environment_tunnels_an_https_apis_calls(
    sim: Simulator, pki: Pki, https_api: str, client_for: ClientFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    network = NetworkOptions(ca_bundle=pki.ca_bundle)
    async with forward_proxy() as (proxy, seen):
        monkeypatch.setenv("HTTPS_PROXY", proxy)
        async with client_for(https_api, network=network) as client:
            for _ in range(3):
                await client.call(LIST)
    assert seen.requests == [f"CONNECT {host_port(https_api)}"]  # one tunnel, kept alive
    assert (client.calls, billed(sim)) == (3, 3)


async def test_the_accounts_proxy_wins_over_the_environment(
    sim: Simulator, pki: Pki, https_api: str, client_for: ClientFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", dead_proxy())
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # the environment's settings, all of them
    async with forward_proxy() as (proxy, seen):
        network = NetworkOptions(proxy=proxy, ca_bundle=pki.ca_bundle)
        async with client_for(https_api, network=network) as client:
            await client.call(LIST)
    assert seen.requests == [f"CONNECT {host_port(https_api)}"]
    assert billed(sim) == 1


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.1", "*"])
async def test_no_proxy_bypasses_the_proxy(
    sim: Simulator,
    http_api: str,
    client_for: ClientFor,
    monkeypatch: pytest.MonkeyPatch,
    no_proxy: str,
) -> None:
    async with forward_proxy() as (proxy, seen):
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.setenv("NO_PROXY", no_proxy)
        async with client_for(http_api) as client:
            await client.call(LIST)
    assert seen.requests == []
    assert billed(sim) == 1


async def test_proxy_credentials_from_the_environment_reach_the_proxy_and_are_masked(
    sim: Simulator, http_api: str, client_for: ClientFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with forward_proxy() as (proxy, seen):
        monkeypatch.setenv("HTTP_PROXY", proxy.replace("//", "//sync:proxy-SECRET-pw@"))
        async with client_for(http_api) as client:
            await client.call(LIST)
    assert seen.authorizations == ["Basic c3luYzpwcm94eS1TRUNSRVQtcHc="]  # sync:proxy-SECRET-pw
    assert "proxy-SECRET-pw" in client.secrets  # masked in logs (api_session installs it)
    assert billed(sim) == 1
