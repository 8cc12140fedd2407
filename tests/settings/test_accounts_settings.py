"""The accounts file is validated strictly and as a whole when loaded: packages must be
packages.yaml's, `not_licensed` entries resources the product syncs, credentials the
names of environment variables; each error names the file and the key path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.budget.packages import load_packages
from pipelines.settings import ConfigError, load_accounts
from tests.settings.helpers import SECRET, account, write_yaml


def _load(tmp_path: Path, *accounts: dict[str, Any]) -> list[Any]:
    path = write_yaml(tmp_path / "accounts.yaml", {"accounts": list(accounts)})
    return load_accounts({"TAMPUURI_ACCOUNTS_FILE": str(path)})


def _error(tmp_path: Path, *accounts: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, *accounts)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'accounts.yaml'}: ")
    return message.removeprefix(f"{tmp_path / 'accounts.yaml'}: ")


def test_a_misspelt_package_names_the_account_entry_and_the_known_packages(
    tmp_path: Path,
) -> None:
    known = ", ".join(load_packages())
    message = _error(tmp_path, account("a"), account("b"), account("c", package="Standrd"))
    assert message == f"accounts[2].package: 'Standrd' is not one of {known}"


def test_package_names_match_case_insensitively(tmp_path: Path) -> None:
    assert _load(tmp_path, account(package="Normal"))[0].package == "Normal"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"webhooks": "yes"}, "accounts[0].webhooks: must be true or false, got 'yes'"),
        ({"webhooks": 1}, "accounts[0].webhooks: must be true or false, got 1"),
        ({"scope": [1001, 2.5]}, "accounts[0].scope[1]: must be an integer, got 2.5"),
        ({"scope": [0]}, "accounts[0].scope[0]: must be greater than 0, got 0"),
        ({"packge": "normal"}, "accounts[0].packge: unknown key"),
        ({"name": "Yritys A"}, "accounts[0].name: 'Yritys A' does not match"),
        ({"base_url": "api.tampuuri.fi"}, "accounts[0].base_url: must start with http://"),
        (
            {"budget": {"reserve_for_webhooks": 1.5}},
            "accounts[0].budget.reserve_for_webhooks: must be at most 1, got 1.5",
        ),
        (
            {"budget": {"full_scan_period_days": 0}},
            "accounts[0].budget.full_scan_period_days: must be greater than 0, got 0",
        ),
        (
            {"budget": {"on_drift": "later"}},
            "accounts[0].budget.on_drift: 'later' is not one of locate, wait",
        ),
        (
            {"budget": {"billing_timezone": "Europe/Helsingfors"}},
            "accounts[0].budget.billing_timezone: 'Europe/Helsingfors' is not a time zone",
        ),
        (
            {"budget": {"ceiling": {"overage_eur": -10}}},
            "accounts[0].budget.ceiling.overage_eur: must be at least 0, got -10",
        ),
        (
            {"not_licensed": ["ilmoitukset", "asunnot"]},
            "accounts[0].not_licensed: 'asunnot': not a resource; known: kustannuspaikat,"
            " kohteet, osapuolet, ilmoitukset",
        ),
        ({"network": {"http2": "on"}}, "accounts[0].network.http2: must be true or false"),
        ({"network": {"verify": False}}, "accounts[0].network.verify: TLS verification"),
    ],
)
def test_a_bad_account_setting_names_its_key_path(
    tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    assert _error(tmp_path, account(**changes)).startswith(expected)


def test_not_licensed_takes_the_synced_resources(tmp_path: Path) -> None:
    loaded = _load(tmp_path, account(not_licensed=["ilmoitukset", "kohteet"]))
    assert loaded[0].not_licensed == ("ilmoitukset", "kohteet")


def test_the_file_as_a_whole(tmp_path: Path) -> None:
    assert _error(tmp_path) == "accounts: must not be empty"
    assert "repeated: ['a']" in _error(tmp_path, account("a"), account("a"))
    write_yaml(tmp_path / "accounts.yaml", {"accounts": [account()], "extra": 1})
    with pytest.raises(ConfigError, match=r"accounts\.yaml: extra: unknown key"):
        load_accounts({"TAMPUURI_ACCOUNTS_FILE": str(tmp_path / "accounts.yaml")})


def test_an_inline_secret_is_refused_without_being_shown(tmp_path: Path) -> None:
    credentials = {**account()["credentials"], "api_key": SECRET, "password": "hunter2 pw"}
    message = _error(tmp_path, account(credentials=credentials))
    assert message.startswith("accounts[0].credentials.api_key: must be the NAME of the")
    assert "accounts[0].credentials.password: must be the NAME" in message
    assert SECRET not in message and "hunter2" not in message


def test_a_one_account_environment_is_validated_too() -> None:
    environ = {"TAMPUURI_BASE_URL": "http://127.0.0.1:1/v10/api/", "TAMPUURI_PACKAGE": "gold"}
    with pytest.raises(ConfigError) as caught:
        load_accounts(environ)
    assert str(caught.value).startswith(
        "environment: TAMPUURI_PACKAGE: 'gold' is not one of standard"
    )
    assert load_accounts({**environ, "TAMPUURI_PACKAGE": ""})[0].package == "standard"
    with pytest.raises(ConfigError, match="environment: TAMPUURI_BASE_URL: must start with http"):
        load_accounts({"TAMPUURI_BASE_URL": "api.tampuuri.fi"})
