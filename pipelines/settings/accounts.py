"""The accounts synced into the warehouse: config/accounts.yaml, or one account from the
TAMPUURI_* variables.

An account's package must be one of config/packages.yaml's, and its `not_licensed`
entries resources the product syncs; both are checked when the accounts are loaded, so
that a typo stops the command before its first call.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pipelines.settings.credentials import (
    SINGLE_ACCOUNT_VARIABLES,
    Credentials,
    CredentialVariables,
)
from pipelines.settings.environment import read_environment
from pipelines.settings.errors import ConfigError, describe_validation_error, shown
from pipelines.settings.files import config_file, read_yaml, validate_document
from pipelines.settings.network import NetworkOptions
from pipelines.settings.profiles import (
    BUDGET_PARTS,
    DEFAULT_PROFILE,
    Profile,
    ProfileOverrides,
    load_profiles,
    resolve_profile,
)
from pipelines.settings.values import (
    NonNegativeFloat,
    PositiveInt,
    StrictBool,
    StrictStr,
    TimeZoneName,
)

_MODEL = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
Fraction = Annotated[float, Field(strict=True, ge=0, le=1)]
Overage = Annotated[
    dict[Literal["overage_calls", "overage_eur"], NonNegativeFloat], Field(min_length=1)
]
# A ceiling is the word `package` or a mapping of limits: the input's form picks which one
# validates it, so that an error speaks of that form only. (The tags hold "[": error
# locations leave such parts out, as they do pydantic's own union members.)
Ceiling = Annotated[
    Annotated[Literal["package"], Tag("ceiling[word]")]
    | Annotated[Overage, Tag("ceiling[limits]")],
    Discriminator(lambda value: "ceiling[limits]" if isinstance(value, dict) else "ceiling[word]"),
]


class BudgetSettings(BaseModel):
    """How an account may spend its monthly call package."""

    model_config = _MODEL

    reserve_for_webhooks: Fraction = 0.1
    # "package": stop at the included calls; or allow overage up to N calls or N euros.
    ceiling: Ceiling = "package"
    billing_timezone: TimeZoneName = "Europe/Helsinki"
    # Full re-scans of fan-out scopes are spread so that every scope is re-scanned within
    # this many days.
    full_scan_period_days: PositiveInt = 7
    # The reconciliation sweep re-reads an account-wide list without a change-since
    # filter in full once per this many days (links, which carry the parties: a party
    # change whose webhook was lost shows by then); with on_drift "wait", a drifted list
    # waits for this read.
    list_rescan_period_days: PositiveInt = 7
    # What the sweep does the night a list's Total drifts (rows deleted without a webhook,
    # such as links): "locate" searches an ordered list for the deleted rows (a few calls)
    # or else re-reads it in full, so deletions show within a day; "wait" leaves the drift
    # to the list's periodic re-read (the frugal profile).
    on_drift: Literal["locate", "wait"] = "locate"


class AccountConfig(BaseModel):
    """One Tampuuri account (one client firm) synced into the warehouse."""

    model_config = _MODEL

    name: StrictStr = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    base_url: StrictStr
    package: StrictStr = "standard"
    credentials: CredentialVariables
    scope: tuple[PositiveInt, ...] | None = None
    budget: BudgetSettings = BudgetSettings()
    # Tampuuri's webhooks (a separate product) are registered for this account: changes
    # arrive through the inbox sensor, so Dagster's nightly sync skips the account and the
    # reconciliation sweep alone catches what webhooks missed (the "default" strategy of
    # benchmarks/RESULTS.md). False: the nightly sync polls every resource.
    webhooks: StrictBool = False
    # Proxy, TLS trust (CA bundle), client certificate, HTTP/2 (settings/network.py).
    network: NetworkOptions = Field(default_factory=NetworkOptions)
    # Resources whose routes this account's Tampuuri licence does not include: a 403 on
    # the whole route is then expected (status `not_licensed`, exit 0) rather than a
    # missing role right (status `forbidden`, exit non-zero).
    not_licensed: tuple[StrictStr, ...] = ()
    # Opt-in resources (`opt_in: true` in config/resources/) this account syncs too.
    resources: tuple[StrictStr, ...] = ()
    # The spending profile (config/profiles.yaml) and the account's changes to it; its
    # budget parts fill the `budget:` keys the account does not write (pipelines/profiles/).
    profile: StrictStr = DEFAULT_PROFILE
    profile_overrides: ProfileOverrides | None = None

    @model_validator(mode="before")
    @classmethod
    def _profile_fills_budget(cls, data: Any, info: ValidationInfo) -> Any:
        profiles = _profiles(info)
        if not isinstance(data, dict) or not isinstance(data.get("budget", {}), dict):
            return data
        try:
            effective = resolve_profile(
                profiles[data.get("profile", DEFAULT_PROFILE)],
                ProfileOverrides.model_validate(data.get("profile_overrides") or {}),
            )
        except (KeyError, TypeError, ValidationError):
            return data  # the fields' own checks name what is wrong
        parts = {key: getattr(effective, key) for key in BUDGET_PARTS}
        return {**data, "budget": {**parts, **data.get("budget", {})}}

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str, info: ValidationInfo) -> str:
        known = _profiles(info)
        if value not in known:
            raise ValueError(f"{shown(value, 'profile')} is not one of {', '.join(known)}")
        return value

    @model_validator(mode="after")
    def _overrides_fit_the_profile(self, info: ValidationInfo) -> AccountConfig:
        try:
            resolve_profile(_profiles(info)[self.profile], self.profile_overrides)
        except ValidationError as exc:
            said = str(describe_validation_error("profile_overrides", exc))
            raise ValueError(said.replace("profile_overrides: ", "profile_overrides.", 1)) from None
        return self

    @property
    def effective_profile(self) -> Profile:
        """The account's profile with its overrides and its `budget:` keys applied."""
        profile = resolve_profile(load_profiles()[self.profile], self.profile_overrides)
        return profile.model_copy(update={k: getattr(self.budget, k) for k in BUDGET_PARTS})

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value if value.endswith("/") else value + "/"

    @field_validator("package")
    @classmethod
    def _known_package(cls, value: str, info: ValidationInfo) -> str:
        # The packages come with the accounts file's validation (`load_accounts`); an
        # AccountConfig built in code is checked when its package is looked up.
        known: tuple[str, ...] | None = (info.context or {}).get("packages")
        if known is not None and value.lower() not in {name.lower() for name in known}:
            raise ValueError(f"{shown(value, 'package')} is not one of {', '.join(known)}")
        return value

    @field_validator("not_licensed", "resources")
    @classmethod
    def _known_resources(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        from pipelines.declarations import load_declarations  # lazily: it reads settings

        assets, licence = load_declarations().assets, info.field_name == "not_licensed"
        known = [name for name, asset in assets.items() if licence or asset.opt_in]
        unknown = [name for name in value if name not in known]
        if unknown:
            names = ", ".join(shown(name, "resource") for name in unknown)
            what = "a resource" if licence else "an opt-in resource"
            raise ValueError(f"{names}: not {what}; known: {', '.join(known)}")
        return value

    def synced_assets(self) -> tuple[str, ...]:
        """The assets this account syncs: every declared one not opt-in, and its opt-ins."""
        from pipelines.declarations import load_declarations

        return load_declarations().synced_assets(self.resources)

    def resolve_credentials(self, environ: Mapping[str, str] | None = None) -> Credentials:
        """Read this account's secrets from the environment, naming any that is missing or
        that no HTTP header can carry (`check_header_value`)."""
        return self.credentials.resolve(self.name, os.environ if environ is None else environ)


class _AccountsFile(BaseModel):
    model_config = _MODEL

    accounts: list[AccountConfig] = Field(min_length=1)

    @field_validator("accounts")
    @classmethod
    def _unique_names(cls, accounts: list[AccountConfig]) -> list[AccountConfig]:
        names = [a.name for a in accounts]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"account names must be unique, repeated: {duplicates}")
        return accounts


def accounts_file(environ: Mapping[str, str] | None = None) -> Path | None:
    """Which accounts file applies: $TAMPUURI_ACCOUNTS_FILE, else accounts.yaml in the
    config folder if it exists."""
    env = read_environment(environ)
    if env.accounts_file is not None:
        return env.accounts_file
    default = config_file("accounts.yaml", environ)
    return default if default.exists() else None


def _profiles(info: ValidationInfo) -> dict[str, Profile]:
    known: dict[str, Profile] | None = (info.context or {}).get("profiles")
    return known if known is not None else load_profiles()


def _validation_context() -> dict[str, Any]:
    from pipelines.budget.packages import load_packages  # lazily: budget imports settings

    return {"packages": tuple(load_packages()), "profiles": load_profiles()}


def load_accounts(environ: Mapping[str, str] | None = None) -> list[AccountConfig]:
    """The configured accounts: from the accounts file, or one from TAMPUURI_* variables.

    Raises:
        ConfigError: naming the file (or variable) and the key path that is wrong.
    """
    env = os.environ if environ is None else environ
    path = accounts_file(env)
    if path is None:
        return [single_account_from_env(env)]
    if not path.exists():  # only an explicit TAMPUURI_ACCOUNTS_FILE can name a missing file
        raise ConfigError(f"{path}: file not found (named by TAMPUURI_ACCOUNTS_FILE)")
    raw = read_yaml(path)
    return validate_document(_AccountsFile, raw, path, context=_validation_context()).accounts


def single_account_from_env(env: Mapping[str, str]) -> AccountConfig:
    """The one-account setup: everything from TAMPUURI_* environment variables."""
    settings = read_environment(env)
    if not settings.base_url:
        raise ConfigError(
            "no accounts configured: set TAMPUURI_ACCOUNTS_FILE, create config/accounts.yaml, "
            "or set TAMPUURI_BASE_URL and the other TAMPUURI_* variables (.env.example)"
        )
    raw = {
        "name": settings.account_label or _label(settings.account_name or "default"),
        "base_url": settings.base_url,
        "package": settings.package or "standard",
        "credentials": SINGLE_ACCOUNT_VARIABLES,
    }
    return validate_document(
        AccountConfig, raw, "environment", context=_validation_context(), key=_variable_of
    )


# Which variable gave each key of the one-account set-up, for its error messages.
_SINGLE_ACCOUNT_SOURCES = {
    "name": "TAMPUURI_ACCOUNT_LABEL (or TAMPUURI_ACCOUNT_NAME)",
    "base_url": "TAMPUURI_BASE_URL",
    "package": "TAMPUURI_PACKAGE",
}


def _variable_of(loc: tuple[int | str, ...]) -> str:
    return _SINGLE_ACCOUNT_SOURCES.get(str(loc[0]), "TAMPUURI_*") if loc else "TAMPUURI_*"


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
