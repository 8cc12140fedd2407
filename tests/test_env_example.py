""".env.example names every TAMPUURI_* variable the code reads.

The names come from two places: the string literals in pipelines/ (credential variables,
the database and accounts variables) and the pydantic-settings models, whose variables are
a prefix plus a field name and appear nowhere as one string.
"""

from __future__ import annotations

import re

from pydantic_settings import BaseSettings

import pipelines.settings  # imported: its settings models are defined
import pipelines.webhooks.settings
from pipelines.settings import PROJECT_ROOT

_NAME = re.compile(r"\bTAMPUURI_[A-Z0-9_]*[A-Z0-9]\b")
_PREFIX = "TAMPUURI_"


def _example() -> dict[str, str]:
    """NAME -> value for every `NAME=value` line, commented out or not."""
    text = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    found = re.findall(r"^#?\s*(TAMPUURI_[A-Z0-9_]+)=(.*)$", text, flags=re.MULTILINE)
    return {name: value.strip() for name, value in found}


def _subclasses(cls: type) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))]


def _settings_variables() -> set[str]:
    names = set()
    for model in _subclasses(BaseSettings):
        prefix = str(model.model_config.get("env_prefix") or "")
        if not prefix.startswith(_PREFIX):
            continue
        for field_name, field in model.model_fields.items():
            alias = field.validation_alias
            choices = getattr(alias, "choices", None) or ([alias] if alias else [])
            names.update(str(choice) for choice in choices if isinstance(choice, str))
            if not choices:
                names.add((prefix + field_name).upper())
    return names


def _literal_variables() -> set[str]:
    names = set()
    for path in (PROJECT_ROOT / "pipelines").rglob("*.py"):
        names.update(_NAME.findall(path.read_text(encoding="utf-8")))
    return names


def test_every_variable_the_code_reads_is_in_env_example() -> None:
    settings = _settings_variables()
    assert {"TAMPUURI_DATABASE_URL", "TAMPUURI_WEBHOOK_HEADER_TIMEOUT_S"} <= settings
    missing = (settings | _literal_variables()) - set(_example())
    assert missing == set()


def test_the_receiver_deadlines_are_shown_at_their_defaults() -> None:
    defaults = pipelines.webhooks.settings.ReceiverSettings.model_fields
    example = _example()
    assert (
        float(example["TAMPUURI_WEBHOOK_HEADER_TIMEOUT_S"]) == defaults["header_timeout_s"].default
    )
    assert float(example["TAMPUURI_WEBHOOK_BODY_TIMEOUT_S"]) == defaults["body_timeout_s"].default
