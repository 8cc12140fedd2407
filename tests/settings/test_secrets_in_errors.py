"""No settings error repeats a secret: not one written inline where a variable's name
belongs, not one in a proxy or database URL, not one on a line YAML cannot parse, not one
pasted into a setting that is no secret, not one written as a key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.settings import ConfigError, load_accounts, read_environment
from pipelines.warehouse.engine import database_url
from tests.settings.helpers import SECRET, account, write_yaml


def _accounts_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "accounts.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_accounts({"TAMPUURI_ACCOUNTS_FILE": str(path)})
    return str(caught.value)


def _entry_error(tmp_path: Path, **changes: object) -> str:
    path = write_yaml(tmp_path / "accounts.yaml", {"accounts": [account(**changes)]})
    with pytest.raises(ConfigError) as caught:
        load_accounts({"TAMPUURI_ACCOUNTS_FILE": str(path)})
    return str(caught.value)


@pytest.mark.parametrize("key", ["api_key", "password", "username", "software_version"])
def test_a_secret_in_place_of_a_variable_name_is_not_shown(tmp_path: Path, key: str) -> None:
    credentials = {**account()["credentials"], key: SECRET}
    message = _entry_error(tmp_path, credentials=credentials)
    assert f"credentials.{key}: must be the NAME of the environment variable" in message
    assert SECRET not in message and "input_value" not in message


def test_a_short_or_spaced_password_inline_is_not_shown_either(tmp_path: Path) -> None:
    # Too short or too plain to look like a secret: the key path alone hides it.
    for value in ("hunter2", "my pass word", "Salasana!"):
        credentials = {**account()["credentials"], "password": value}
        assert value not in _entry_error(tmp_path, credentials=credentials)


def test_a_proxy_url_with_a_password_is_not_shown(tmp_path: Path) -> None:
    for proxy in (f"http://user:{SECRET}@proxy.example:3128", f"socks5://u:{SECRET}@proxy:1080"):
        message = _entry_error(tmp_path, network={"proxy": proxy})
        assert "network.proxy:" in message and SECRET not in message


def test_a_secret_pasted_into_another_setting_is_not_shown(tmp_path: Path) -> None:
    message = _entry_error(tmp_path, package=SECRET)
    assert "accounts[0].package: (value not shown) is not one of standard" in message
    assert SECRET not in _entry_error(tmp_path, webhooks=SECRET)
    assert SECRET not in _entry_error(tmp_path, credentials={**account()["credentials"], SECRET: 1})


def test_a_line_yaml_cannot_parse_is_not_quoted(tmp_path: Path) -> None:
    message = _accounts_error(
        tmp_path, f'accounts:\n  - name: demo\n    credentials:\n      api_key: "{SECRET}\n'
    )
    assert "not valid YAML" in message and "line" in message
    assert SECRET not in message
    message = _accounts_error(tmp_path, f"accounts:\n  - name: demo\n  {SECRET}: [\n")
    assert "not valid YAML" in message and SECRET not in message


def test_a_database_url_that_is_no_postgresql_url_is_not_shown() -> None:
    environ = {"TAMPUURI_DATABASE_URL": f"mysql://sync:{SECRET}@db.example/dw"}
    with pytest.raises(ConfigError) as caught:
        database_url(environ)
    assert str(caught.value) == (
        "environment: TAMPUURI_DATABASE_URL: must be a PostgreSQL URL"
        " (postgresql://user@host:5432/dbname) or 'embedded'"
    )
    url = read_environment({"TAMPUURI_DATABASE_URL": f"postgresql://a:{SECRET}@h/d"})
    assert SECRET not in repr(url) and SECRET not in str(url.database_url)
