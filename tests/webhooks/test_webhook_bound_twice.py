"""An event type bound both by a resource declaration (`webhooks:`) and by
config/events.yaml is a ConfigError naming both files (issue 18); the declarations'
bindings reach the mapping with the file they came from."""

from __future__ import annotations

import pytest

from pipelines.declarations import load_declarations
from pipelines.settings import ConfigError
from pipelines.webhooks.events import load_event_mapping, parse_event_mapping


@pytest.mark.parametrize("event_type", ["OsapuoliUusi", "asuntotarkastusuusi"])
def test_a_type_bound_in_events_yaml_and_a_declaration_names_both_files(tmp_path, event_type):
    events = tmp_path / "events.yaml"
    events.write_text(f"events:\n  {event_type}: {{action: ignore}}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_event_mapping(events)
    message = str(caught.value)
    bound = load_event_mapping().rule(event_type)
    assert str(events) in message
    assert str(load_declarations()[bound.resource].source) in message
    assert bound.resource in message and event_type in message


def test_a_resource_rule_in_events_yaml_is_checked_against_the_declarations():
    with pytest.raises(ConfigError, match=r"events\.X\.resource"):
        parse_event_mapping({"X": {"resource": "asunnot", "action": "refresh"}})
    with pytest.raises(ConfigError, match=r"refresh_links.*now 'refresh_scope'"):
        parse_event_mapping({"X": {"resource": "osapuoli_yhteydet", "action": "refresh_links"}})
    rule = parse_event_mapping({"X": {"resource": "osapuoli_yhteydet", "action": "refresh_scope"}})
    assert rule.rule("X").resource == "osapuoli_yhteydet"


def test_every_declared_binding_is_in_the_mapping_with_its_file():
    mapping = load_event_mapping()
    declarations = load_declarations()
    for event_type, binding in declarations.events.items():
        rule = mapping.rule(event_type)
        assert (rule.resource, rule.action, rule.secondary) == (
            binding.resource,
            binding.rule.action,
            binding.rule.secondary,
        )
        assert rule.source == str(declarations[binding.resource].source)
