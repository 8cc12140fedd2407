"""Helpers for the Dagster tests: an accounts file for the simulator's accounts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ACCOUNTS = ("demo-a", "demo-b")
TABLES = ("kustannuspaikat", "kohteet", "osapuolet", "osapuoli_yhteydet", "ilmoitukset")


def write_accounts(sim, base_url: str, directory: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An accounts file for the simulator's accounts; credentials go to env via monkeypatch."""
    accounts = []
    for name in ACCOUNTS:
        prefix = "T_" + name.upper().replace("-", "_")
        creds = sim.credentials(name)
        variables = {}
        for key in ("api_key", "customer_name", "account_name", "username", "password"):
            variable = f"{prefix}_{key.upper()}"
            monkeypatch.setenv(variable, getattr(creds, key))
            variables[key] = variable
        accounts.append(
            {"name": name, "base_url": base_url, "package": "normal", "credentials": variables}
        )
    path = directory / "accounts.yaml"
    path.write_text(yaml.safe_dump({"accounts": accounts}), encoding="utf-8")
    monkeypatch.setenv("TAMPUURI_ACCOUNTS_FILE", str(path))
    return path


def credential_env(sim) -> dict[str, str]:
    """The same variables as write_accounts sets, as a dict (for subprocesses)."""
    env = {}
    for name in ACCOUNTS:
        prefix = "T_" + name.upper().replace("-", "_")
        creds = sim.credentials(name)
        for key in ("api_key", "customer_name", "account_name", "username", "password"):
            env[f"{prefix}_{key.upper()}"] = getattr(creds, key)
    return env
