"""Fixtures of the transport tests: a test CA and its certificates as files, a small
simulator, and clients on the default (stock httpx) transport for its account."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from pydantic import SecretStr

from pipelines.settings import Credentials
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.tampuuri.client import TampuuriClient
from pipelines.tampuuri.ledger import CallLedger
from pipelines.tampuuri.network_options import NetworkOptions
from pipelines.tampuuri.retry import RetryBudget, RetryPolicy

from ..fakes import SleepRecorder

ACCOUNT = "demo-a"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass(frozen=True)
class Pki:
    """A test CA, a server certificate for 127.0.0.1 and a client certificate, as files."""

    authority: trustme.CA
    ca_bundle: Path
    server_cert: Path  # certificate chain and key in one file
    client_cert: Path
    client_key: Path
    other_ca_bundle: Path  # a CA that signed nothing here

    def server_context(self, *, require_client_cert: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.ca_bundle)
        return context


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    authority = trustme.CA()
    authority.cert_pem.write_to_path(folder / "ca.pem")
    trustme.CA().cert_pem.write_to_path(folder / "other-ca.pem")
    authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        folder / "server.pem"
    )
    client = authority.issue_cert("sync@tampuuri.test")
    client.cert_chain_pems[0].write_to_path(folder / "client.pem")
    client.private_key_pem.write_to_path(folder / "client.key")
    return Pki(
        authority=authority,
        ca_bundle=folder / "ca.pem",
        server_cert=folder / "server.pem",
        client_cert=folder / "client.pem",
        client_key=folder / "client.key",
        other_ca_bundle=folder / "other-ca.pem",
    )


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimulatorConfig(seed=3, scale=200, accounts=(ACCOUNT,)))


def simulator_credentials(sim: Simulator) -> Credentials:
    given = sim.credentials(ACCOUNT)
    return Credentials(
        api_key=SecretStr(given.api_key),
        customer_name=given.customer_name,
        account_name=given.account_name,
        username=given.username,
        password=SecretStr(given.password),
    )


ClientFor = Callable[..., TampuuriClient]


@pytest.fixture
def client_for(sim: Simulator) -> ClientFor:
    """A client for the simulator's account at `base_url` on the default transport."""

    def build(
        base_url: str,
        *,
        network: NetworkOptions | None = None,
        ledger: CallLedger | None = None,
        max_attempts: int = 6,
        **kwargs: Any,
    ) -> TampuuriClient:
        return TampuuriClient(
            ACCOUNT,
            base_url,
            simulator_credentials(sim),
            network=network,
            ledger=ledger,
            retry=RetryPolicy(max_attempts=max_attempts, backoff_initial_s=0, backoff_max_s=0),
            retry_budget=RetryBudget(100),
            sleep=SleepRecorder(),
            **kwargs,
        )

    return build


def billed(sim: Simulator) -> int:
    """API calls the simulator counted (transactions) for the account."""
    return sum(row["count"] for row in sim.transactions(ACCOUNT))
