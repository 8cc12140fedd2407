"""config/sync.yaml is validated strictly: a wrong type is never coerced (2.7 is not 2,
`true` is not 1), a number out of its range and an unknown key are errors, and each
error names the file and the key path."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pipelines.settings import ConfigError, SyncSettings, load_sync_settings
from tests.settings.helpers import write_yaml

# (setting, value, what the message says): every value issue 17 found hanging, billing
# calls or truncated, and the bounds around them.
REJECTED = [
    ("page_concurrency", 2.7, "must be an integer, got 2.7"),
    ("page_concurrency", 0, "must be greater than 0, got 0"),
    ("page_concurrency", -3, "must be greater than 0, got -3"),
    ("page_concurrency", "4", "must be an integer, got '4'"),
    ("page_concurrency", 1000, "must be at most 128, got 1000"),
    ("scope_concurrency", 0, "must be greater than 0, got 0"),
    ("max_attempts", True, "must be an integer, got true"),
    ("max_attempts", 0, "must be greater than 0, got 0"),
    ("max_attempts", -3, "must be greater than 0, got -3"),
    ("connect_timeout_s", 0, "must be greater than 0, got 0"),
    ("connect_timeout_s", False, "must be a number, got false"),
    ("read_timeout_s", -5, "must be greater than 0, got -5"),
    ("read_timeout_s", "30s", "must be a number, got '30s'"),
    ("retry_cap_per_run", -1, "must be at least 0, got -1"),
    ("overlap_minutes", 1.5, "must be an integer, got 1.5"),
    ("backoff_initial_s", -0.5, "must be at least 0, got -0.5"),
]


def _load(tmp_path: Path, section: object) -> SyncSettings:
    return load_sync_settings(write_yaml(tmp_path / "sync.yaml", {"sync": section}))


@pytest.mark.parametrize(("key", "value", "problem"), REJECTED)
def test_a_bad_value_is_refused_naming_file_and_key(
    tmp_path: Path, key: str, value: object, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, {key: value})
    assert str(caught.value) == f"{tmp_path / 'sync.yaml'}: sync.{key}: {problem}"


def test_an_unknown_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, {"page_concurency": 4})
    # A typo is answered with the key it is closest to.
    assert str(caught.value).endswith(
        "sync.yaml: sync.page_concurency: unknown key (did you mean page_concurrency?)"
    )
    with pytest.raises(ConfigError, match=r"sync\.yaml: synk: unknown key \(did you mean sync\?\)"):
        load_sync_settings(write_yaml(tmp_path / "sync.yaml", {"synk": {}}))
    # Nothing close: no guess; a key that may be a secret is never repeated.
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, {"colour": 4})
    assert str(caught.value).endswith("sync.colour: unknown key")


def test_every_bad_key_is_named_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, {"page_concurrency": 2.7, "max_attempts": True, "read_timeout_s": -5})
    message = str(caught.value)
    for key in ("sync.page_concurrency", "sync.max_attempts", "sync.read_timeout_s"):
        assert key in message


def test_backoff_max_below_initial_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sync\.backoff_max_s: must be at least backoff_init"):
        _load(tmp_path, {"backoff_initial_s": 10, "backoff_max_s": 1})


def test_valid_values_load_as_given(tmp_path: Path) -> None:
    settings = _load(tmp_path, {"page_concurrency": 8, "connect_timeout_s": 2, "max_attempts": 1})
    assert (settings.page_concurrency, settings.connect_timeout_s, settings.max_attempts) == (
        8,
        2.0,
        1,
    )
    assert settings.read_timeout_s == SyncSettings().read_timeout_s  # the default
    assert _load(tmp_path, None) == SyncSettings()  # an empty section: the defaults


def test_the_shipped_file_loads() -> None:
    assert isinstance(load_sync_settings(), SyncSettings)


def test_a_changed_copy_is_validated_too() -> None:
    """Tests and benchmarks derive settings with dataclasses.replace: validated as well."""
    settings = load_sync_settings()
    assert dataclasses.replace(settings, max_attempts=3).max_attempts == 3
    with pytest.raises(ValueError, match="greater than 0"):
        dataclasses.replace(settings, page_concurrency=0)


def test_a_typo_deep_in_a_file_gets_the_close_key(tmp_path: Path) -> None:
    """Through lists and mappings: accounts[0].credentials, a declaration's routes.list."""
    from pipelines.settings.accounts import _AccountsFile
    from pipelines.settings.files import validate_document

    document = {
        "accounts": [
            {
                "name": "a",
                "base_url": "http://127.0.0.1:1/v10/api/",
                "pakage": "normal",
                "credentials": {
                    "api_key": "A",
                    "customer_name": "B",
                    "account_name": "C",
                    "username": "D",
                    "pasword": "E",
                    "kZ81mQ4xR7pT2w": "F",
                },
            }
        ]
    }
    with pytest.raises(ConfigError) as caught:
        validate_document(_AccountsFile, document, "accounts.yaml")
    message = str(caught.value)
    assert "accounts[0].pakage: unknown key (did you mean package?)" in message
    assert "accounts[0].credentials.pasword: unknown key (did you mean password?)" in message
    assert "kZ81mQ4xR7pT2w" not in message
