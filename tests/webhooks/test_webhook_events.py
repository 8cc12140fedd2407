"""config/events.yaml maps every event type the simulator sends to the binding (resource,
action); a broken entry raises ConfigError naming its key; payload validation and the
dedup key (over the notification's fields, never Attempts) behave as documented."""

from __future__ import annotations

import pytest

from pipelines.settings import ConfigError
from pipelines.webhooks.events import load_event_mapping, parse_event_mapping
from pipelines.webhooks.notification import (
    BundleError,
    dedup_key,
    parse_bundle,
    parse_notification,
)

from .conftest import bundle, notification

BINDING = {
    "IlmoitusUusi": ("ilmoitukset", "refresh"),
    "IlmoitusTilamuutos": ("ilmoitukset", "refresh"),
    "KohderekisteriTietoUusi": ("kohteet", "refresh"),
    "KohderekisteriTietoMuokkaa": ("kohteet", "refresh"),
    "KohderekisteriTietoPoista": ("kohteet", "delete"),
    "OsapuoliUusi": ("osapuolet", "refresh"),
    "OsapuoliMuokkaa": ("osapuolet", "refresh"),
    "OsapuoliPoista": ("osapuolet", "delete"),
    "OsapuoliKohdeLiitosUusi": ("osapuoli_yhteydet", "refresh_scope"),
    "AsuntotarkastusUusi": ("asuntotarkastukset", "refresh"),
    "AsuntotarkastusTilamuutos": ("asuntotarkastukset", "refresh"),
    "SopimusUusi": ("vuokrasopimukset", "refresh"),
    "SopimusPaattyi": ("vuokrasopimukset", "refresh"),
    "KustannuspaikkaMuokkaa": ("kustannuspaikat", "refresh"),
}
IGNORED = [
    "DokumenttipankkiDokumenttiUusi",
    "DokumenttipankkiDokumenttiMuokkaa",
    "DokumenttipankkiDokumenttiPoista",
]


def test_shipped_mapping_matches_the_binding_event_list():
    mapping = load_event_mapping()
    for event_type, (resource, action) in BINDING.items():
        rule = mapping.rule(event_type)
        assert rule is not None and (rule.resource, rule.action) == (resource, action)
    for event_type in IGNORED:
        assert mapping.rule(event_type).ignored
    assert mapping.rule("kohderekisteritietomuokkaa") == mapping.rule("KohderekisteriTietoMuokkaa")
    assert mapping.rule("KohderekisteriTietoMuokkaa").secondary == "kustannuspaikka"
    assert mapping.rule("TuntematonTapahtuma") is None
    assert len(mapping.rules) == len(BINDING) + len(IGNORED)


@pytest.mark.parametrize(
    ("entries", "named"),
    [
        ({"X": {"resource": "kohteet", "action": "fetch"}}, "events.X.action"),
        ({"X": {"resource": "asunnot", "action": "refresh"}}, "events.X.resource"),
        ({"X": {"resource": "kohteet", "action": "refresh", "extra": 1}}, "events.X.extra"),
        ({"X": {"resource": "kohteet", "action": "refresh_links"}}, "events.X.action"),
        ({"X": {"resource": "kohteet", "action": "refresh", "secondary": "y"}}, "X.secondary"),
        ({"X": "refresh"}, "events.X"),
        ({"X": {"action": "ignore"}, "x": {"action": "ignore"}}, "events.x"),
    ],
)
def test_broken_mapping_names_the_key(entries, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        parse_event_mapping(entries)


def test_missing_events_section_is_a_config_error(tmp_path):
    path = tmp_path / "events.yaml"
    path.write_text("other: 1\n")
    with pytest.raises(ConfigError, match="events"):
        load_event_mapping(path)


def test_notification_accepts_numeric_strings_and_any_key_case():
    parsed = parse_notification(
        {"action": "OsapuoliUusi", "ACCOUNT": "demo-a", "ReferenceId": "42", "Timestamp": None}
    )
    assert (parsed.action, parsed.account, parsed.reference_id) == ("OsapuoliUusi", "demo-a", 42)
    assert parsed.event_timestamp is None
    naive = parse_notification(notification(1, Timestamp="2025-01-10T12:00:00"))
    assert naive.event_timestamp.utcoffset().total_seconds() == 2 * 3600  # Helsinki winter


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (notification(1, Action=""), "Action is required"),
        (notification(1, Account=None), "Account is required"),
        (notification(1, ReferenceId=None), "ReferenceId is required"),
        (notification(1, ReferenceId="abc"), "ReferenceId must be an integer"),
        (notification(1, ReferenceId=True), "ReferenceId must be an integer"),
        (notification(1, ReferenceSecondaryId="x"), "ReferenceSecondaryId must be"),
        (notification(1, Timestamp="yesterday"), "Timestamp is not ISO 8601"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_invalid_notifications_name_the_field(item, reason):
    parsed = parse_bundle(bundle(notification(7), item))
    assert len(parsed.valid) == 1
    assert len(parsed.invalid) == 1
    assert reason in parsed.invalid[0].reason
    assert parsed.invalid[0].reason.startswith("Notifications[1]: ")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ([], "expected a JSON object"),
        ({"Attempts": 1}, "Notifications is missing"),
        ({"Attempts": 1, "Notifications": {}}, "Notifications must be a list"),
        ({"Attempts": "1", "Notifications": []}, "Attempts must be a positive integer"),
        ({"Attempts": 0, "Notifications": []}, "Attempts must be a positive integer"),
    ],
)
def test_not_a_bundle(body, named):
    with pytest.raises(BundleError, match=named):
        parse_bundle(body)


def test_bundle_without_attempts_is_attempt_one():
    assert parse_bundle({"Notifications": [notification(1)]}).attempts == 1


def test_dedup_key_ignores_attempts_and_key_order_but_not_content():
    first = parse_bundle(bundle(notification(5), attempts=1)).valid[0]
    again = parse_bundle(bundle(notification(5), attempts=3)).valid[0]
    assert first.dedup_key == again.dedup_key
    reordered = dict(reversed(list(notification(5).items())))
    assert dedup_key(reordered) == first.dedup_key
    assert dedup_key(notification(5, ReferenceData="x")) != first.dedup_key
    assert dedup_key(notification(5, Timestamp="2025-04-20T00:05:46+03:00")) != first.dedup_key
