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
from typing import Any, Final

from pipelines.settings import CONFIG_DIR, ConfigError, read_yaml

DEFAULT_EVENTS_FILE: Final = CONFIG_DIR / "events.yaml"
RESOURCES: Final = frozenset(
    {"kustannuspaikat", "kohteet", "osapuolet", "osapuoli_yhteydet", "ilmoitukset"}
)
ACTIONS: Final = frozenset({"refresh", "delete", "refresh_links", "ignore"})
SECONDARY_MEANINGS: Final = frozenset({"kustannuspaikka", "osapuoli"})
_RULE_KEYS: Final = frozenset({"resource", "action", "secondary"})


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


def load_event_mapping(path: Path | None = None) -> EventMapping:
    """Read the event mapping; any broken entry raises ConfigError naming its key.

    Args:
        path: the YAML file; config/events.yaml by default.

    Returns:
        The frozen mapping of event type to rule.
    """
    source = path or DEFAULT_EVENTS_FILE
    raw = read_yaml(source)
    if not isinstance(raw, dict) or not isinstance(raw.get("events"), dict):
        raise ConfigError(f"{source}: events: must be a mapping of event type to rule")
    return parse_event_mapping(raw["events"], source=str(source))


def parse_event_mapping(entries: Mapping[str, Any], *, source: str = "events") -> EventMapping:
    """Build the mapping from the `events:` section (already parsed YAML)."""
    rules: dict[str, EventRule] = {}
    seen: set[str] = set()
    for name, spec in entries.items():
        rule = _parse_rule(str(name), spec, source)
        if rule.event_type.casefold() in seen:
            raise ConfigError(f"{source}: events.{name}: listed twice (names are case-insensitive)")
        seen.add(rule.event_type.casefold())
        rules[rule.event_type] = rule
    return EventMapping(MappingProxyType(rules))


def _parse_rule(name: str, spec: Any, source: str) -> EventRule:
    where = f"{source}: events.{name}"
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: must be a mapping with resource and action")
    unknown = sorted(set(spec) - _RULE_KEYS)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key")
    action = spec.get("action")
    if action not in ACTIONS:
        raise ConfigError(f"{where}.action: must be one of {sorted(ACTIONS)}, got {action!r}")
    resource = spec.get("resource")
    if action == "ignore":
        if resource is not None and resource not in RESOURCES:
            raise ConfigError(f"{where}.resource: unknown resource {resource!r}")
    elif resource not in RESOURCES:
        raise ConfigError(f"{where}.resource: must be one of {sorted(RESOURCES)}, got {resource!r}")
    secondary = spec.get("secondary")
    if secondary is not None and secondary not in SECONDARY_MEANINGS:
        raise ConfigError(
            f"{where}.secondary: must be one of {sorted(SECONDARY_MEANINGS)}, got {secondary!r}"
        )
    if action == "refresh_links" and resource != "osapuoli_yhteydet":
        raise ConfigError(f"{where}.action: refresh_links applies to osapuoli_yhteydet only")
    return EventRule(event_type=name, action=action, resource=resource, secondary=secondary)
