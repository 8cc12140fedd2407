"""Accounts, credentials and sync settings.

Non-secret settings live in `config/`; secrets only in environment variables, read when a
run needs them (never at import time). A broken setting raises `ConfigError` naming the
file and key that is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipelines.tampuuri.network_options import NetworkOptions

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"
DEFAULT_SOFTWARE_VERSION = "tampuuri-sync_v0.1.0"
SINGLE_ACCOUNT_VARIABLES = {
    "api_key": "TAMPUURI_API_KEY",
    "customer_name": "TAMPUURI_CUSTOMER_NAME",
    "account_name": "TAMPUURI_ACCOUNT_NAME",
    "username": "TAMPUURI_USERNAME",
    "password": "TAMPUURI_PASSWORD",
}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the file and key."""


class Secret:
    """A string that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Credentials:
    """The values of the six X- headers of one Tampuuri account."""

    api_key: Secret
    customer_name: str
    account_name: str
    username: str
    password: Secret
    software_version: str = DEFAULT_SOFTWARE_VERSION

    def headers(self) -> dict[str, str]:
        return {
            "X-TampuuriAvain": self.api_key.reveal(),
            "X-AsiakasNimi": self.customer_name,
            "X-Ohjelmistoversio": self.software_version,
            "X-TiliNimi": self.account_name,
            "X-Kayttajatunnus": self.username,
            "X-Salasana": self.password.reveal(),
        }

    def secrets(self) -> tuple[str, ...]:
        """Values that must never be logged (for redaction filters and tests)."""
        return (self.api_key.reveal(), self.password.reveal())


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CredentialVariables(_Strict):
    """Names of the environment variables that hold an account's credentials."""

    api_key: str
    customer_name: str
    account_name: str
    username: str
    password: str
    software_version: str | None = None


class BudgetSettings(_Strict):
    """How an account may spend its monthly call package."""

    reserve_for_webhooks: float = Field(default=0.1, ge=0, le=1)
    # "package": stop at the included calls; or allow overage up to N calls or N euros.
    ceiling: Literal["package"] | dict[Literal["overage_calls", "overage_eur"], float] = "package"
    billing_timezone: str = "Europe/Helsinki"
    # Full re-scans of fan-out scopes are spread so that every scope is re-scanned within
    # this many days.
    full_scan_period_days: int = Field(default=7, ge=1)
    # The reconciliation sweep re-reads an account-wide list without a change-since
    # filter in full once per this many days (links, which carry the parties: a party
    # change whose webhook was lost shows by then); with on_drift "wait", a drifted list
    # waits for this read.
    list_rescan_period_days: int = Field(default=7, ge=1)
    # What the sweep does the night a list's Total drifts (rows deleted without a webhook,
    # such as links): "locate" searches an ordered list for the deleted rows (a few calls)
    # or else re-reads it in full, so deletions show within a day; "wait" leaves the drift
    # to the list's periodic re-read (the frugal profile).
    on_drift: Literal["locate", "wait"] = "locate"


class AccountConfig(_Strict):
    """One Tampuuri account (one client firm) synced into the warehouse."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    base_url: str
    package: str = "standard"
    credentials: CredentialVariables
    scope: tuple[int, ...] | None = None
    budget: BudgetSettings = BudgetSettings()
    # Tampuuri's webhooks (a separate product) are registered for this account: changes
    # arrive through the inbox sensor, so Dagster's nightly sync skips the account and the
    # reconciliation sweep alone catches what webhooks missed (the "default" strategy of
    # benchmarks/RESULTS.md). False: the nightly sync polls every resource.
    webhooks: bool = False
    # Proxy, TLS trust (CA bundle), client certificate, HTTP/2 (tampuuri/network_options.py).
    network: NetworkOptions = Field(default_factory=NetworkOptions)
    # Resources whose routes this account's Tampuuri licence does not include: a 403 on
    # the whole route is then expected (status `not_licensed`, exit 0) rather than a
    # missing role right (status `forbidden`, exit non-zero).
    not_licensed: tuple[str, ...] = ()

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value if value.endswith("/") else value + "/"

    def resolve_credentials(self, environ: Mapping[str, str] | None = None) -> Credentials:
        """Read this account's secrets from the environment, naming any that is missing or
        that no HTTP header can carry (`_check_header_value`)."""
        env = os.environ if environ is None else environ
        values: dict[str, str] = {}
        for key in ("api_key", "customer_name", "account_name", "username", "password"):
            variable = getattr(self.credentials, key)
            value = env.get(variable)
            if not value:
                raise ConfigError(
                    f"account {self.name!r}: environment variable {variable} "
                    f"(credentials.{key}) is not set"
                )
            _check_header_value(self.name, variable, f"credentials.{key}", value)
            values[key] = value
        version_var = self.credentials.software_version
        if not (version_var and env.get(version_var)):
            version_var = "TAMPUURI_SOFTWARE_VERSION"
        version = env.get(version_var) or DEFAULT_SOFTWARE_VERSION
        _check_header_value(self.name, version_var, "credentials.software_version", version)
        return Credentials(
            api_key=Secret(values["api_key"]),
            customer_name=values["customer_name"],
            account_name=values["account_name"],
            username=values["username"],
            password=Secret(values["password"]),
            software_version=version,
        )


def _check_header_value(account: str, variable: str, key: str, value: str) -> None:
    """Refuse a value an HTTP header cannot carry, naming its variable (never the value).

    A header value (RFC 9110) holds no control character but tab and no whitespace at
    either end; a secret read from a file with its line break would otherwise fail every
    call as a protocol error, each attempt recorded as a billed call.
    """
    controls = any((ord(c) < 0x20 and c != "\t") or c == "\x7f" for c in value)
    if controls or value != value.strip(" \t"):
        raise ConfigError(
            f"account {account!r}: environment variable {variable} ({key}) holds a"
            " character an HTTP header cannot carry (a line break or other control"
            " character, or a space or tab at either end)"
        )


class _AccountsFile(_Strict):
    accounts: list[AccountConfig]

    @field_validator("accounts")
    @classmethod
    def _unique_names(cls, accounts: list[AccountConfig]) -> list[AccountConfig]:
        names = [a.name for a in accounts]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"account names must be unique, repeated: {duplicates}")
        if not accounts:
            raise ValueError("at least one account is required")
        return accounts


# libyaml's parser where PyYAML was built with it: the route catalogue parses in ~1 ms
# instead of ~7.5 (every sync reads it), with the same safe constructors.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> Any:
    """Parse a YAML config file, naming the file on any error."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def describe_validation_error(source: str, exc: ValidationError) -> ConfigError:
    """Turn pydantic's error into one message naming each bad key."""
    problems = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "(top level)"
        problems.append(f"{location}: {error['msg']}")
    return ConfigError(f"{source}: " + "; ".join(problems))


def accounts_file(environ: Mapping[str, str] | None = None) -> Path | None:
    """Which accounts file applies: $TAMPUURI_ACCOUNTS_FILE, else config/accounts.yaml."""
    env = os.environ if environ is None else environ
    explicit = env.get("TAMPUURI_ACCOUNTS_FILE")
    if explicit:
        return Path(explicit)
    default = CONFIG_DIR / "accounts.yaml"
    return default if default.exists() else None


def load_accounts(environ: Mapping[str, str] | None = None) -> list[AccountConfig]:
    """The configured accounts: from the accounts file, or one from TAMPUURI_* variables."""
    env = os.environ if environ is None else environ
    path = accounts_file(env)
    if path is not None:
        raw = read_yaml(path)
        try:
            return _AccountsFile.model_validate(raw).accounts
        except ValidationError as exc:
            raise describe_validation_error(str(path), exc) from None
    return [single_account_from_env(env)]


def single_account_from_env(env: Mapping[str, str]) -> AccountConfig:
    """The one-account setup: everything from TAMPUURI_* environment variables."""
    base_url = env.get("TAMPUURI_BASE_URL")
    if not base_url:
        raise ConfigError(
            "no accounts configured: set TAMPUURI_ACCOUNTS_FILE, create config/accounts.yaml, "
            "or set TAMPUURI_BASE_URL and the other TAMPUURI_* variables (.env.example)"
        )
    raw = {
        "name": env.get("TAMPUURI_ACCOUNT_LABEL")
        or _label(env.get("TAMPUURI_ACCOUNT_NAME", "default")),
        "base_url": base_url,
        "package": env.get("TAMPUURI_PACKAGE", "standard"),
        "credentials": SINGLE_ACCOUNT_VARIABLES,
    }
    try:
        return AccountConfig.model_validate(raw)
    except ValidationError as exc:
        raise describe_validation_error("environment (TAMPUURI_*)", exc) from None


def _label(account_name: str) -> str:
    """A warehouse-safe account label from a Tampuuri account name ("Yritys Oy" -> yritys-oy)."""
    cleaned = "".join(ch if ch.isalnum() else "-" for ch in account_name.lower()).strip("-")
    return "-".join(part for part in cleaned.split("-") if part)[:63] or "default"


def find_account(accounts: list[AccountConfig], name: str) -> AccountConfig:
    for account in accounts:
        if account.name == name:
            return account
    known = ", ".join(a.name for a in accounts)
    raise ConfigError(f"unknown account {name!r}; configured accounts: {known}")


@dataclass(frozen=True)
class SyncSettings:
    """Tunables of a sync run (config/sync.yaml)."""

    page_concurrency: int = 4
    scope_concurrency: int = 2
    scopes_per_transaction: int = 50
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    max_attempts: int = 6
    retry_cap_per_run: int = 500
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    overlap_minutes: int = 10
    max_drift_passes: int = 3
    extra: dict[str, Any] = field(default_factory=dict)


def load_sync_settings(path: Path | None = None) -> SyncSettings:
    """Read config/sync.yaml's `sync:` section; unknown keys are an error naming the key."""
    source = path or CONFIG_DIR / "sync.yaml"
    raw = read_yaml(source) or {}
    section = raw.get("sync", {}) if isinstance(raw, dict) else None
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: sync: must be a mapping")
    known = set(SyncSettings.__dataclass_fields__) - {"extra"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"{source}: sync.{unknown[0]}: unknown setting")
    try:
        return SyncSettings(**{k: type(getattr(SyncSettings, k))(v) for k, v in section.items()})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: sync: {exc}") from None
