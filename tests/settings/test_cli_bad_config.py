"""Nothing invalid reaches the first API call: `tampuuri-sync sync` against a running
simulator, with one bad setting each time, stops with exit code 2 and a one-line message
naming the file and the key path, and the simulator counts not one call. A secret
written inline is refused without appearing in the output. The same set-up with the
shipped settings does call the simulator (the count would see a call)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.settings import PROJECT_ROOT
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.simulator.server import serve_in_thread
from tests.settings.helpers import SECRET, account, config_copy, shipped, write_yaml

ACCOUNT = "demo-a"


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[Simulator, str]]:
    sim = Simulator(SimulatorConfig(seed=5, scale=60, accounts=(ACCOUNT,)))
    with serve_in_thread(sim) as base_url:
        yield sim, base_url + "/v10/api/"


def _environment(sim: Simulator, tmp_path: Path, warehouse_url: str) -> dict[str, str]:
    creds = sim.credentials(ACCOUNT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAMPUURI_")}
    env.update({f"DEMO_{key.upper()}": getattr(creds, key) for key in _KEYS})
    env.update(
        TAMPUURI_DATABASE_URL=warehouse_url,
        TAMPUURI_ACCOUNTS_FILE=str(tmp_path / "accounts.yaml"),
        TAMPUURI_CONFIG_DIR=str(tmp_path / "config"),
        COLUMNS="500",  # the message's one line is not wrapped by the console
    )
    return env


_KEYS = ("api_key", "customer_name", "account_name", "username", "password")


def _sync(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from pipelines.cli import main; main()", "sync"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _sync_yaml(**changes: Any) -> tuple[str, dict[str, Any]]:
    document = shipped("sync.yaml")
    document["sync"].update(changes)
    return "sync.yaml", document


def _objects_declaration() -> tuple[str, dict[str, Any]]:
    document = shipped("resources/kohteet.yaml")
    document["kohteet"]["routes"]["list"]["paging"] = "header"
    return "resources/kohteet.yaml", document


# Each run carries several bad values at once: the message names every one of them.
_SYNC_RUNS = [
    {
        "page_concurrency": (2.7, "must be an integer, got 2.7"),
        "max_attempts": (True, "must be an integer, got true"),
        "connect_timeout_s": (0, "must be greater than 0, got 0"),
        "read_timeout_s": (-5, "must be greater than 0, got -5"),
        "page_concurency": (4, "unknown key"),
    },
    {
        "page_concurrency": (0, "must be greater than 0, got 0"),
        "max_attempts": (0, "must be greater than 0, got 0"),
        "scope_concurrency": (-3, "must be greater than 0, got -3"),
    },
    {"max_attempts": (-3, "must be greater than 0, got -3")},
]
_ACCOUNTS_RUN = [
    ({"package": "Standrd"}, "accounts[0].package: 'Standrd' is not one of standard, normal,"
     " business, enterprise"),
    ({"budget": {"reserve_for_webhooks": 2}},
     "accounts[1].budget.reserve_for_webhooks: must be at most 1, got 2"),
    ({"credentials": {"api_key": SECRET}},
     "accounts[2].credentials.api_key: must be the NAME of the environment variable"),
]  # fmt: skip
CASES = [
    *(
        pytest.param(
            _sync_yaml(**{key: value for key, (value, _) in run.items()}),
            [],
            ["sync.yaml: "] + [f"sync.{key}: {problem}" for key, (_, problem) in run.items()],
            id="sync.yaml " + ", ".join(f"{key} {value}" for key, (value, _) in run.items()),
        )
        for run in _SYNC_RUNS
    ),
    pytest.param(
        _objects_declaration(),
        [],
        ["kohteet.yaml: kohteet.routes.list.paging: must be query or body"],
        id="resources/kohteet.yaml paging header",
    ),
    pytest.param(
        (None, None),
        [changes for changes, _ in _ACCOUNTS_RUN],
        ["accounts.yaml: "] + [expected for _, expected in _ACCOUNTS_RUN],
        id="accounts.yaml package typo, budget range, inline secret",
    ),
]


def _accounts(base_url: str, changes: list[dict[str, Any]]) -> dict[str, Any]:
    entries = []
    for number, change in enumerate(changes or [{}]):
        entry = account(f"{ACCOUNT}-{number}" if number else ACCOUNT, base_url=base_url)
        credentials = {key: f"DEMO_{key.upper()}" for key in _KEYS}
        entry["credentials"] = {**credentials, **change.get("credentials", {})}
        entries.append({**entry, **{k: v for k, v in change.items() if k != "credentials"}})
    return {"accounts": entries}


@pytest.mark.parametrize(("config", "accounts", "expected"), CASES)
def test_bad_settings_stop_sync_before_its_first_call(
    simulator: tuple[Simulator, str],
    tmp_path: Path,
    warehouse_url: str,
    config: tuple[str | None, Any],
    accounts: list[dict[str, Any]],
    expected: list[str],
) -> None:
    sim, base_url = simulator
    sim.counter.reset()
    config_copy(tmp_path / "config", *config)
    write_yaml(tmp_path / "accounts.yaml", _accounts(base_url, accounts))

    done = _sync(_environment(sim, tmp_path, warehouse_url))

    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    message = done.stdout.strip()  # one line, however long (the console does not wrap it)
    assert message.startswith("configuration error: ") and "\n" not in message, output
    for problem in expected:
        assert problem in message, output
    assert "Traceback" not in output and "input_value" not in output
    assert SECRET not in output
    assert sim.transactions() == []  # not one call reached the API


def test_the_same_set_up_with_good_settings_does_call_the_api(
    simulator: tuple[Simulator, str], tmp_path: Path, warehouse_url: str
) -> None:
    sim, base_url = simulator
    sim.counter.reset()
    config_copy(tmp_path / "config")
    write_yaml(tmp_path / "accounts.yaml", _accounts(base_url, [{"package": "normal"}]))
    done = _sync(_environment(sim, tmp_path, warehouse_url))
    assert done.returncode == 0, (done.returncode, done.stdout[-3000:], done.stderr[-3000:])
    assert sum(row["count"] for row in sim.transactions()) > 0
