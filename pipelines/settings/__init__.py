"""Every setting of the product, typed: one pydantic model per source, strict.

- the environment (TAMPUURI_*): `environment.py`
- config/accounts.yaml and each account's credentials: `accounts.py`, `credentials.py`
- config/sync.yaml: `sync.py`; config/schedules.yaml: `pipelines/assets/settings.py`
- config/packages.yaml, config/routes.yaml, config/events.yaml: their loaders beside the
  code that uses them (`budget/packages.py`, `tampuuri/catalogue.py`, `webhooks/events.py`)

Non-secret settings live in `config/` (or $TAMPUURI_CONFIG_DIR); secrets only in
environment variables, read when a run needs them (never at import time). A wrong type,
an out-of-range number or an unknown key raises `ConfigError` naming the file and the key
path; no message repeats a value that may be a secret (`errors.py`).
"""

from pipelines.settings.accounts import (
    AccountConfig,
    BudgetSettings,
    accounts_file,
    find_account,
    load_accounts,
    single_account_from_env,
)
from pipelines.settings.credentials import (
    DEFAULT_SOFTWARE_VERSION,
    SINGLE_ACCOUNT_VARIABLES,
    Credentials,
    CredentialVariables,
)
from pipelines.settings.environment import TampuuriEnvironment, read_environment
from pipelines.settings.errors import ConfigError, describe_validation_error
from pipelines.settings.files import (
    CONFIG_DIR,
    PROJECT_ROOT,
    config_dir,
    config_file,
    read_yaml,
    validate_document,
)
from pipelines.settings.sync import SyncSettings, load_sync_settings

__all__ = [
    "CONFIG_DIR",
    "DEFAULT_SOFTWARE_VERSION",
    "PROJECT_ROOT",
    "SINGLE_ACCOUNT_VARIABLES",
    "AccountConfig",
    "BudgetSettings",
    "ConfigError",
    "CredentialVariables",
    "Credentials",
    "SyncSettings",
    "TampuuriEnvironment",
    "accounts_file",
    "config_dir",
    "config_file",
    "describe_validation_error",
    "find_account",
    "load_accounts",
    "load_sync_settings",
    "read_environment",
    "read_yaml",
    "single_account_from_env",
    "validate_document",
]
