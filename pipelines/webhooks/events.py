"""Webhook event types and what the listener does about each.

The event types that refresh a mirrored table are bound in that resource's declaration
(`webhooks:` in config/resources/*.yaml, `Declarations.events`); config/events.yaml keeps
only the documented types the warehouse does not mirror (`action: ignore`). A type bound
in both is a ConfigError naming both files. Only some event type names are documented by
Tampuuri; the rest are assumptions an operator corrects in the config files. A type
missing from both is never dropped: the inbox stores it with status `unknown` and the CLI
reports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from pipelines.declarations import Declarations, load_declarations
from pipelines.declarations.schema import Secondary
from pipelines.settings import ConfigError, config_file, read_yaml, validate_document
from pipelines.settings.values import StrictStr

# The rule actions: a declaration's webhook actions, and `ignore` (events.yaml only).
Action = Literal["refresh", "delete", "refresh_scope", "ignore"]
# The action older configs named `refresh_scope` by (ReferenceId: an object id whose
# links to re-read). Never stored: the inbox keeps the event type, not the rule.
LEGACY_ACTIONS = {"refresh_links": "refresh_scope"}


@dataclass(frozen=True)
class EventRule:
    """What one event type means: which resource, and what to do about the referenced row."""

    event_type: str
    action: str
    resource: str | None = None
    # What ReferenceSecondaryId holds (schema.Secondary), if it matters.
    secondary: str | None = None
    # Where the rule is bound: a declaration file, or events.yaml.
    source: str = ""

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


class _RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    action: Action
    resource: StrictStr | None = None
    secondary: Secondary | None = None

    @field_validator("action", mode="before")
    @classmethod
    def _legacy(cls, value: object) -> object:
        if isinstance(value, str) and value in LEGACY_ACTIONS:
            raise ValueError(f"{value!r} is now {LEGACY_ACTIONS[value]!r}")
        return value

    @field_validator("resource")
    @classmethod
    def _declared(cls, value: str | None) -> str | None:
        declared = load_declarations().resources
        if value is not None and value not in declared:
            raise ValueError(f"{value!r} is not a declared resource ({', '.join(declared)})")
        return value

    @model_validator(mode="after")
    def _resource_fits_action(self) -> _RuleSpec:
        if self.action != "ignore" and self.resource is None:
            raise ValueError(f"resource: is required with action {self.action}")
        if self.action == "refresh_scope" and self.resource is not None:
            routes = load_declarations()[self.resource].spec.routes
            if routes.scope_filter is None:
                raise ValueError(f"action: refresh_scope needs {self.resource}'s scope_filter")
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


def load_event_mapping(
    path: Path | None = None, *, declarations: Declarations | None = None
) -> EventMapping:
    """The declarations' event bindings and events.yaml's, merged; any broken entry, or a
    type bound in both, raises ConfigError naming its key (and both files).

    Args:
        path: the YAML file; events.yaml in the config folder by default.
        declarations: the resource declarations (`load_declarations()` by default).

    Returns:
        The frozen mapping of event type to rule.
    """
    source = path or config_file("events.yaml")
    document = validate_document(_EventsFile, read_yaml(source), source)
    return _mapping(document, str(source), declarations or load_declarations())


def parse_event_mapping(
    entries: Mapping[str, Any], *, source: str = "events", declarations: Declarations | None = None
) -> EventMapping:
    """Build the mapping from the `events:` section (already parsed YAML) and the
    declarations' bindings."""
    document = validate_document(_EventsFile, {"events": entries}, source)
    return _mapping(document, source, declarations or load_declarations())


def declared_rules(declarations: Declarations) -> dict[str, EventRule]:
    """Event type -> rule, as the resource declarations bind them."""
    return {
        event: EventRule(
            event_type=event,
            action=binding.rule.action,
            resource=binding.resource,
            secondary=binding.rule.secondary,
            source=str(declarations[binding.resource].source),
        )
        for event, binding in declarations.events.items()
    }


def _mapping(document: _EventsFile, source: str, declarations: Declarations) -> EventMapping:
    rules = declared_rules(declarations)
    folded = {name.casefold(): rule for name, rule in rules.items()}
    for name, spec in document.events.items():
        bound = folded.get(name.casefold())
        if bound is not None:
            raise ConfigError(
                f"{source}: events.{name}: bound twice: here and in {bound.source}"
                f" (webhooks.{bound.event_type} of {bound.resource}); keep one"
            )
        rules[name] = EventRule(
            event_type=name,
            action=spec.action,
            resource=spec.resource,
            secondary=spec.secondary,
            source=source,
        )
    return EventMapping(MappingProxyType(rules))
