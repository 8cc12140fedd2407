"""An account's credentials from the environment: a missing one or one that no HTTP header
can carry is a ConfigError naming its variable, never showing its value."""

from __future__ import annotations

import pytest

from pipelines.settings import (
    DEFAULT_SOFTWARE_VERSION,
    SINGLE_ACCOUNT_VARIABLES,
    AccountConfig,
    ConfigError,
)

ENVIRON = {
    "TAMPUURI_API_KEY": "5f0c2a9e-3b7d-4e21-9c6a-settings0001",
    "TAMPUURI_CUSTOMER_NAME": "Isännöinti Äijälä Oy",
    "TAMPUURI_ACCOUNT_NAME": "demo",
    "TAMPUURI_USERNAME": "api user\twith a tab",
    "TAMPUURI_PASSWORD": "salasana-123",
}


def _account(**credentials: str) -> AccountConfig:
    return AccountConfig.model_validate(
        {
            "name": "demo",
            "base_url": "https://api.example.fi/v10/api/",
            "credentials": {**SINGLE_ACCOUNT_VARIABLES, **credentials},
        }
    )


def test_values_a_header_can_carry_are_read_as_given() -> None:
    credentials = _account().resolve_credentials(ENVIRON)
    assert credentials.customer_name == "Isännöinti Äijälä Oy"
    assert credentials.username == "api user\twith a tab"  # a tab inside is allowed
    assert credentials.password.get_secret_value() == "salasana-123"
    assert credentials.software_version == DEFAULT_SOFTWARE_VERSION


def test_a_missing_variable_is_named() -> None:
    environ = {k: v for k, v in ENVIRON.items() if k != "TAMPUURI_USERNAME"}
    with pytest.raises(ConfigError, match=r"TAMPUURI_USERNAME \(credentials.username\) is not"):
        _account().resolve_credentials(environ)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TAMPUURI_PASSWORD", "salasana-123\n"),  # read from a file with its line break
        ("TAMPUURI_PASSWORD", "salasana-123\r\n"),
        ("TAMPUURI_API_KEY", "5f0c2a9e\x00settings"),
        ("TAMPUURI_USERNAME", " api-user"),
        ("TAMPUURI_CUSTOMER_NAME", "Äijälä Oy\t"),
        ("TAMPUURI_ACCOUNT_NAME", "demo\x7f"),
        ("TAMPUURI_SOFTWARE_VERSION", "tampuuri-sync_v1\n"),
    ],
)
def test_a_value_no_header_can_carry_is_named_but_not_shown(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _account().resolve_credentials({**ENVIRON, variable: value})
    message = str(caught.value)
    assert variable in message and "HTTP header" in message
    assert value.strip() not in message


def test_the_software_version_comes_from_the_accounts_own_variable_first() -> None:
    account = _account(software_version="DEMO_VERSION")
    environ = {**ENVIRON, "TAMPUURI_SOFTWARE_VERSION": "shared_v2"}
    assert account.resolve_credentials({**environ, "DEMO_VERSION": "own_v3"}).software_version == (
        "own_v3"
    )
    assert account.resolve_credentials(environ).software_version == "shared_v2"
    with pytest.raises(ConfigError, match="DEMO_VERSION"):
        account.resolve_credentials({**environ, "DEMO_VERSION": "own_v3\n"})
