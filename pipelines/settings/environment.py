"""The TAMPUURI_* environment variables that are settings (not secrets), typed.

Read when a command needs them, never at import time. Secrets are read by name from the
environment as accounts.yaml says (`credentials.py`); the receiver's variables are
`webhooks/settings.py`'s.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipelines.settings.errors import describe_validation_error

PREFIX = "TAMPUURI_"
DATABASE_VARIABLE = "TAMPUURI_DATABASE_URL"
EMBEDDED = "embedded"  # the value of DATABASE_VARIABLE that chooses the embedded server
_DATABASE_SCHEMES = (
    "postgres://",
    "postgresql://",
    "postgresql+psycopg://",
    "postgresql+psycopg2://",
)


class TampuuriEnvironment(BaseSettings):
    """Settings from TAMPUURI_* variables; a blank variable counts as unset.

    Attributes:
        database_url: the warehouse's PostgreSQL URL, or `embedded` (a secret: a URL can
            carry its password).
        accounts_file: the accounts file (default: config/accounts.yaml if it exists).
        config_dir: the folder of the other config files (default: the project's config/).
        base_url, account_label, account_name, package: the one-account set-up without
            an accounts file.
    """

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, extra="ignore", frozen=True, hide_input_in_errors=True
    )

    database_url: SecretStr | None = None
    accounts_file: Path | None = None
    config_dir: Path | None = None
    base_url: str | None = None
    account_label: str | None = None
    account_name: str | None = None
    package: str | None = None

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: Any, *_sources: Any, **_named: Any
    ) -> tuple[Any, ...]:
        """Only the values `read_environment` passes: it reads `environ` itself, so a
        caller's mapping is never topped up from the process's variables or a .env file."""
        return (init_settings,)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _postgres_or_embedded(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        url = value.get_secret_value()
        if url.lower() != EMBEDDED and not url.startswith(_DATABASE_SCHEMES):
            # The URL is not repeated: it may carry the warehouse's password.
            raise ValueError(
                "must be a PostgreSQL URL (postgresql://user@host:5432/dbname) or 'embedded'"
            )
        return value


def read_environment(environ: Mapping[str, str] | None = None) -> TampuuriEnvironment:
    """The TAMPUURI_* settings of `environ` (default: the process's environment).

    Raises:
        ConfigError: a variable's value is malformed; names the variable, never the value.
    """
    env = os.environ if environ is None else environ
    names = TampuuriEnvironment.model_fields
    values = {
        key[len(PREFIX) :].lower(): value
        for key, value in env.items()
        if key.upper().startswith(PREFIX) and key[len(PREFIX) :].lower() in names
    }
    try:
        # model_validate: exactly `environ`, not the process's variables or a .env file.
        return TampuuriEnvironment.model_validate(values)
    except ValidationError as exc:
        raise describe_validation_error("environment", exc, key=_variable) from None


def _variable(loc: tuple[int | str, ...]) -> str:
    return PREFIX + str(loc[0]).upper() if loc else "(environment)"
