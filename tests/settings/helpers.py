"""Writing config files for the settings tests: the shipped files with one value changed."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import yaml

from pipelines.settings import CONFIG_DIR

# A secret such as an operator might paste inline: nothing may ever repeat it.
SECRET = "k3y-ZQX81-distinctive-5ecret-9f2a"

CREDENTIALS = {
    "api_key": "DEMO_API_KEY",
    "customer_name": "DEMO_CUSTOMER_NAME",
    "account_name": "DEMO_ACCOUNT_NAME",
    "username": "DEMO_USERNAME",
    "password": "DEMO_PASSWORD",
}


def account(name: str = "demo", **changes: Any) -> dict[str, Any]:
    """One account entry of accounts.yaml, valid unless `changes` make it otherwise."""
    entry: dict[str, Any] = {
        "name": name,
        "base_url": "http://127.0.0.1:1/v10/api/",
        "package": "standard",
        "credentials": dict(CREDENTIALS),
    }
    entry.update(changes)
    return entry


def write_yaml(path: Path, document: Any) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def shipped(name: str) -> dict[str, Any]:
    """A shipped config file, parsed (a fresh copy to change)."""
    return copy.deepcopy(yaml.safe_load((CONFIG_DIR / name).read_text(encoding="utf-8")))


def config_copy(folder: Path, name: str | None = None, document: Any = None) -> Path:
    """The shipped config folder copied into `folder` (with its resources/), with `name`
    (e.g. "sync.yaml" or "resources/kohteet.yaml") replaced by `document`."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in CONFIG_DIR.glob("*.yaml"):
        shutil.copy(source, folder / source.name)
    shutil.copytree(CONFIG_DIR / "resources", folder / "resources", dirs_exist_ok=True)
    if name is not None:
        write_yaml(folder / name, document)
    return folder
