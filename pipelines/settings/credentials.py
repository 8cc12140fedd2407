"""An account's credentials: the names of their environment variables in accounts.yaml,
their values read from the environment when a run needs them (never at import time).

A value written inline where a variable's name belongs is refused without being shown,
and the values read are `SecretStr`: they never show in repr, logs or tracebacks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, SecretStr, StrictStr

from pipelines.settings.errors import ConfigError, looks_secret

DEFAULT_SOFTWARE_VERSION = "tampuuri-sync_v0.1.0"
SOFTWARE_VERSION_VARIABLE = "TAMPUURI_SOFTWARE_VERSION"
SINGLE_ACCOUNT_VARIABLES = {
    "api_key": "TAMPUURI_API_KEY",
    "customer_name": "TAMPUURI_CUSTOMER_NAME",
    "account_name": "TAMPUURI_ACCOUNT_NAME",
    "username": "TAMPUURI_USERNAME",
    "password": "TAMPUURI_PASSWORD",
}
_REQUIRED = ("api_key", "customer_name", "account_name", "username", "password")
# Environment variable names as POSIX writes them: upper case, digits and _. Requiring the
# convention is what tells a name from a password pasted in its place (`hunter2`,
# `Salasana1`); a long run of capitals and digits without an underscore is a key's shape,
# not a name's. Either is refused, and the message never repeats it.
_VARIABLE_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")


def _variable_name(value: str) -> str:
    if not _VARIABLE_NAME.fullmatch(value) or ("_" not in value and looks_secret(value)):
        raise ValueError(
            "must be the NAME of the environment variable that holds the value (capital"
            " letters, digits and _, such as YRITYS_A_API_KEY), not the value itself:"
            " secrets never go into a config file"
        )
    return value


VariableName = Annotated[StrictStr, AfterValidator(_variable_name)]


class CredentialVariables(BaseModel):
    """Names of the environment variables that hold an account's credentials."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    api_key: VariableName
    customer_name: VariableName
    account_name: VariableName
    username: VariableName
    password: VariableName
    software_version: VariableName | None = None

    def resolve(self, account: str, environ: Mapping[str, str]) -> Credentials:
        """Read the credentials' values, naming any variable that is missing or whose value
        no HTTP header can carry (`check_header_value`).

        Raises:
            ConfigError: naming the variable and its key, never the value.
        """
        values: dict[str, str] = {}
        for key in _REQUIRED:
            variable = getattr(self, key)
            value = environ.get(variable)
            if not value:
                raise ConfigError(
                    f"account {account!r}: environment variable {variable} "
                    f"(credentials.{key}) is not set"
                )
            check_header_value(account, variable, f"credentials.{key}", value)
            values[key] = value
        version_var = self.software_version
        if not (version_var and environ.get(version_var)):
            version_var = SOFTWARE_VERSION_VARIABLE
        version = environ.get(version_var) or DEFAULT_SOFTWARE_VERSION
        check_header_value(account, version_var, "credentials.software_version", version)
        return Credentials(
            api_key=SecretStr(values["api_key"]),
            customer_name=values["customer_name"],
            account_name=values["account_name"],
            username=values["username"],
            password=SecretStr(values["password"]),
            software_version=version,
        )


@dataclass(frozen=True)
class Credentials:
    """The values of the six X- headers of one Tampuuri account."""

    api_key: SecretStr
    customer_name: str
    account_name: str
    username: str
    password: SecretStr
    software_version: str = DEFAULT_SOFTWARE_VERSION

    def headers(self) -> dict[str, str]:
        return {
            "X-TampuuriAvain": self.api_key.get_secret_value(),
            "X-AsiakasNimi": self.customer_name,
            "X-Ohjelmistoversio": self.software_version,
            "X-TiliNimi": self.account_name,
            "X-Kayttajatunnus": self.username,
            "X-Salasana": self.password.get_secret_value(),
        }

    def secrets(self) -> tuple[str, ...]:
        """Values that must never be logged (for redaction filters and tests)."""
        return (self.api_key.get_secret_value(), self.password.get_secret_value())


def check_header_value(account: str, variable: str, key: str, value: str) -> None:
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
