"""TLS on the client's stock transport, against the simulator served over HTTPS by uvicorn
with a test CA: a scan succeeds when the account's CA bundle names that CA; with the
system trust store or a wrong CA the call fails at once (one ledgered attempt, none
billed) with an error saying the certificate could not be verified and naming the host;
a client certificate is presented when configured and the server requires one; HTTP/2 is
used when enabled and the server offers it, with the Finnish header bytes unchanged."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator

import orjson
import pytest

from pipelines.simulator import Simulator
from pipelines.simulator.server import serve_in_thread
from pipelines.tampuuri.catalogue import Route, load_catalogue
from pipelines.tampuuri.client import TampuuriClient
from pipelines.tampuuri.errors import TampuuriUnavailable
from pipelines.tampuuri.ledger import CallLedger
from pipelines.tampuuri.network_options import NetworkOptions
from pipelines.tampuuri.paging import PagedScan

from .conftest import ACCOUNT, ClientFor, Pki, billed
from .tiny_servers import h2_or_http11, server

pytestmark = pytest.mark.anyio

COST_CENTRES = load_catalogue().resources["kustannuspaikat"].list
assert COST_CENTRES is not None


async def scan_ids(client: TampuuriClient) -> list[int]:
    ids: list[int] = []
    async for page in PagedScan(client, COST_CENTRES).pages():
        ids.extend(item["Id"] for item in page.items)
    return ids


def expected_ids(sim: Simulator) -> list[int]:
    return [item["Id"] for item in sim.items(ACCOUNT, "kustannuspaikat")]


@pytest.fixture
def https_api(sim: Simulator, pki: Pki) -> Iterator[str]:
    with serve_in_thread(sim, ssl_certfile=str(pki.server_cert)) as origin:
        yield f"{origin}/v10/api/"


@pytest.fixture
def mutual_tls_api(sim: Simulator, pki: Pki) -> Iterator[str]:
    """The simulator over HTTPS, refusing clients without a certificate of the test CA."""
    with serve_in_thread(
        sim,
        ssl_certfile=str(pki.server_cert),
        ssl_ca_certs=str(pki.ca_bundle),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
    ) as origin:
        yield f"{origin}/v10/api/"


async def test_with_the_accounts_ca_bundle_a_scan_succeeds(
    sim: Simulator, pki: Pki, https_api: str, client_for: ClientFor
) -> None:
    ledger = CallLedger(None)
    network = NetworkOptions(ca_bundle=pki.ca_bundle)
    async with client_for(https_api, network=network, ledger=ledger) as client:
        ids = await scan_ids(client)
    assert ids == expected_ids(sim) and ids
    assert (client.calls, ledger.records_total, billed(sim)) == (1, 1, 1)


@pytest.mark.parametrize("trust", ["system-store", "wrong-ca"])
async def test_a_certificate_that_cannot_be_verified_fails_at_once_naming_the_host(
    sim: Simulator, pki: Pki, https_api: str, client_for: ClientFor, trust: str
) -> None:
    network = NetworkOptions(ca_bundle=pki.other_ca_bundle if trust == "wrong-ca" else None)
    ledger = CallLedger(None)
    async with client_for(https_api, network=network, ledger=ledger) as client:
        with pytest.raises(TampuuriUnavailable) as caught:
            await scan_ids(client)
    origin = https_api.split("//")[1].split("/")[0]
    message = str(caught.value)
    assert message.startswith(
        f"account 'demo-a': GET kustannuspaikat/selaa -> no response: the TLS certificate of"
        f" {origin} could not be verified ("
    )
    assert "not retried" in message and "network.ca_bundle" in message
    # One attempt (ledgered: it may be billed), no retries; the API never saw a request.
    assert (client.calls, client.retries, ledger.counts_by_status()) == (1, 0, {None: 1})
    assert billed(sim) == 0


async def test_a_client_certificate_is_presented_when_the_server_requires_one(
    sim: Simulator, pki: Pki, mutual_tls_api: str, client_for: ClientFor
) -> None:
    with_cert = NetworkOptions(
        ca_bundle=pki.ca_bundle, client_cert=pki.client_cert, client_key=pki.client_key
    )
    ledger = CallLedger(None)
    async with client_for(mutual_tls_api, network=with_cert, ledger=ledger) as client:
        assert await scan_ids(client) == expected_ids(sim)
    assert (ledger.records_total, billed(sim)) == (1, 1)


async def test_without_the_client_certificate_the_server_required_the_call_fails(
    sim: Simulator, pki: Pki, mutual_tls_api: str, client_for: ClientFor
) -> None:
    """Under TLS 1.3 the server refuses after the handshake; its alert reaches httpx as a
    dropped connection (uvicorn closes without one), so this is retried like one: a
    refusal only shows as final when the alert arrives (network_options.py)."""
    ledger = CallLedger(None)
    network = NetworkOptions(ca_bundle=pki.ca_bundle)
    client = client_for(mutual_tls_api, network=network, ledger=ledger, max_attempts=2)
    async with client:
        with pytest.raises(TampuuriUnavailable, match="gave up after 2 attempts"):
            await scan_ids(client)
    assert (client.calls, ledger.records_total, billed(sim)) == (2, 2, 0)


PAGE = orjson.dumps({"Offset": 0, "Limit": 250, "Total": 0, "Items": []})
LIST = Route("GET", "kustannuspaikat/selaa")


@pytest.mark.parametrize(("http2", "protocol"), [(True, "h2"), (False, "http/1.1")])
async def test_http2_is_used_when_enabled_and_offered(
    sim: Simulator, pki: Pki, client_for: ClientFor, http2: bool, protocol: str
) -> None:
    context = pki.server_context()
    context.set_alpn_protocols(["h2", "http/1.1"])
    seen: list[tuple[str, dict[bytes, bytes]]] = []
    network = NetworkOptions(ca_bundle=pki.ca_bundle, http2=http2)
    async with server(h2_or_http11(PAGE, seen), context) as (address, accepted):
        client = client_for(f"https://{address}/v10/api/", network=network)
        async with client:
            await client.call(LIST)  # the first call goes alone (first_answer.py)
            answers = await asyncio.gather(*(client.call(LIST) for _ in range(3)))
    assert answers == [orjson.loads(PAGE)] * 3
    assert [p for p, _ in seen] == [protocol] * 4
    # HTTP/2 multiplexes the concurrent calls on one connection.
    assert len(accepted) == 1 if http2 else len(accepted) >= 1
    customer = sim.credentials(ACCOUNT).customer_name
    assert seen[0][1][b"x-asiakasnimi"] == customer.encode("iso-8859-1")
