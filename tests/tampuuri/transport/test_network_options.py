"""An account's `network:` options (tampuuri/network_options.py): what a wrong value is
told, before any call: unknown keys, turning verification off, a proxy password in the
config file (never echoed), a key without its certificate, a missing, unreadable or
non-PEM file (the error names the account, key and file), an encrypted key, and an
environment proxy that is not an http(s) URL; and what a valid section becomes (the
system trust store by default, the bundle's CA instead of it when one is named)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError

from pipelines.settings import AccountConfig, ConfigError
from pipelines.tampuuri.network_options import NetworkOptions, transport_options

from .conftest import Pki

API = "https://api.tampuuri.test/v10/api/"


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def options_error(**values: object) -> str:
    with pytest.raises(ValidationError) as caught:
        NetworkOptions.model_validate(values)
    return str(caught.value)


def config_error(options: NetworkOptions) -> str:
    with pytest.raises(ConfigError) as caught:
        transport_options(options, API, account="demo-a")
    return str(caught.value)


def test_an_account_without_a_network_section_verifies_against_the_system_store() -> None:
    account = AccountConfig.model_validate(
        {
            "name": "demo-a",
            "base_url": API,
            "credentials": {
                "api_key": "K", "customer_name": "C", "account_name": "A",
                "username": "U", "password": "P",
            },
        }
    )  # fmt: skip
    assert account.network == NetworkOptions()
    options = transport_options(account.network, API, account="demo-a")
    assert type(options["verify"]).__module__.startswith("truststore")
    assert options["verify"].verify_mode == ssl.CERT_REQUIRED
    assert options["verify"].check_hostname
    assert (options["proxy"], options["http2"]) == (None, False)


def test_a_ca_bundle_replaces_the_system_store(pki: Pki) -> None:
    options = transport_options(NetworkOptions(ca_bundle=pki.ca_bundle), API, account="demo-a")
    context = options["verify"]
    assert not type(context).__module__.startswith("truststore")
    assert [c["subject"] for c in context.get_ca_certs()] == [
        ((("organizationName", "trustme v1.2.1"),), (("organizationalUnitName", unit),))
        for unit in [context.get_ca_certs()[0]["subject"][1][0][1]]
    ]
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"verify": False}, "verify: TLS verification cannot be turned off"),
        ({"proxies": "http://proxy:3128"}, "proxies\n  Extra inputs are not permitted"),
        ({"http2": "yes"}, "http2\n  Input should be a valid boolean"),
        ({"proxy": "socks5://proxy:1080"}, "the proxy URL must start with http:// or https://"),
        ({"client_key": "client.key"}, "client_key is set without client_cert"),
    ],
)
def test_a_wrong_value_is_refused_with_what_to_do(values: dict[str, object], expected: str) -> None:
    assert expected in options_error(**values)


def test_a_proxy_password_in_the_config_file_is_refused_and_never_echoed() -> None:
    message = options_error(proxy="http://sync:proxy-SECRET-pw@proxy.example:3128")
    assert "give the proxy URL with its credentials in the HTTPS_PROXY environment" in message
    assert "proxy-SECRET-pw" not in message


def test_a_missing_or_unreadable_file_is_named(tmp_path: Path, pki: Pki) -> None:
    missing = tmp_path / "missing.pem"
    assert config_error(NetworkOptions(ca_bundle=missing)) == (
        f"account 'demo-a': network.ca_bundle: {missing}: file not found"
    )
    assert config_error(NetworkOptions(ca_bundle=tmp_path)) == (
        f"account 'demo-a': network.ca_bundle: {tmp_path}: is a directory, not a file"
    )
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    assert config_error(NetworkOptions(ca_bundle=garbage)) == (
        f"account 'demo-a': network.ca_bundle: {garbage}: holds no PEM certificate"
    )
    options = NetworkOptions(client_cert=pki.client_cert, client_key=missing)
    assert config_error(options) == (
        f"account 'demo-a': network.client_key: {missing}: file not found"
    )
    other_key = tmp_path / "other.key"
    trustme.CA().issue_cert("x.test").private_key_pem.write_to_path(other_key)
    mismatch = config_error(NetworkOptions(client_cert=pki.client_cert, client_key=other_key))
    assert mismatch.startswith(f"account 'demo-a': network.client_cert: {pki.client_cert}: ")
    assert "a key that does not match" in mismatch


def test_an_encrypted_key_is_refused_without_asking_for_a_passphrase(
    tmp_path: Path, pki: Pki
) -> None:
    key = serialization.load_pem_private_key(pki.client_key.read_bytes(), password=None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    message = config_error(NetworkOptions(client_cert=pki.client_cert, client_key=encrypted))
    assert message.endswith(
        "the key is encrypted; give an unencrypted key (file permissions protect it)"
    )


def test_an_environment_proxy_that_is_not_http_is_named_not_echoed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks5://user:proxy-SECRET-pw@proxy.example:1080")
    message = config_error(NetworkOptions())
    assert message == (
        "account 'demo-a': network.proxy: HTTPS_PROXY (environment): the proxy URL must"
        " start with http:// or https://"
    )
