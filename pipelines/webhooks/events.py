"""Webhook event types and what the listener does about each (config/events.yaml).

Only some event type names are documented by Tampuuri; the rest are assumptions an
operator corrects in the config file. A type missing from the file is never dropped: the
inbox stores it with status `unknown` and the CLI reports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from pipelines.settings import config_file, read_yaml, validate_document
from pipelines.settings.values import StrictStr


@dataclass(frozen=True)
class EventRule:
    """What one event type means: which resource, and what to do about the referenced row."""

    event_type: str
    action: str
    resource: str | None = None
    # What ReferenceSecondaryId holds ("kustannuspaikka", "osapuoli"), if it matters.
    secondary: str | None = None

    @property
    def ignored(self) -> bool:
        return self.action == "ignore"


@dataclass(frozen=True)
class EventMapping:
    """Event type -> rule. Lookups are case-insensitive (the names are PascalCase)."""

    rules: Mapping[str, EventRule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        folded = {name.casefold(): rule for name, rule in self.rules.items()}
        object.__setattr__(self, "_folded", MappingProxyType(folded))

    def rule(self, event_type: str) -> EventRule | None:
        """The rule for an event type, or None when the type is unknown."""
        folded: Mapping[str, EventRule] = object.__getattribute__(self, "_folded")
        return folded.get(event_type.casefold())

    def is_known(self, event_type: str) -> bool:
        return self.rule(event_type) is not None


Resource = Literal["kustannuspaikat", "kohteet", "osapuolet", "osapuoli_yhteydet", "ilmoitukset"]
Action = Literal["refresh", "delete", "refresh_links", "ignore"]
Secondary = Literal["kustannuspaikka", "osapuoli"]
RESOURCES: Final = frozenset(get_args(Resource))
ACTIONS: Final = frozenset(get_args(Action))
SECONDARY_MEANINGS: Final = frozenset(get_args(Secondary))


class _RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    action: Action
    resource: Resource | None = None
    secondary: Secondary | None = None

    @model_validator(mode="after")
    def _resource_fits_action(self) -> _RuleSpec:
        if self.action != "ignore" and self.resource is None:
            raise ValueError(f"resource: is required with action {self.action}")
        if self.action == "refresh_links" and self.resource != "osapuoli_yhteydet":
            raise ValueError("action: refresh_links applies to osapuoli_yhteydet only")
        return self


class _EventsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    events: dict[StrictStr, _RuleSpec]

    @field_validator("events")
    @classmethod
    def _once_each(cls, events: dict[str, _RuleSpec]) -> dict[str, _RuleSpec]:
        seen: set[str] = set()
        for name in events:
            if name.casefold() in seen:
                raise ValueError(f"{name}: listed twice (names are case-insensitive)")
            seen.add(name.casefold())
        return events


def load_event_mapping(path: Path | None = None) -> EventMapping:
    """Read the event mapping; any broken entry raises ConfigError naming its key.

    Args:
        path: the YAML file; events.yaml in the config folder by default.

    Returns:
        The frozen mapping of event type to rule.
    """
    source = path or config_file("events.yaml")
    return _mapping(validate_document(_EventsFile, read_yaml(source), source))


def parse_event_mapping(entries: Mapping[str, Any], *, source: str = "events") -> EventMapping:
    """Build the mapping from the `events:` section (already parsed YAML)."""
    return _mapping(validate_document(_EventsFile, {"events": entries}, source))


def _mapping(document: _EventsFile) -> EventMapping:
    rules = {
        name: EventRule(
            event_type=name, action=spec.action, resource=spec.resource, secondary=spec.secondary
        )
        for name, spec in document.events.items()
    }
    return EventMapping(MappingProxyType(rules))
