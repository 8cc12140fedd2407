"""The coalescing planner (pure, plain data): a burst of events on few rows becomes one
batch with one target per row; events younger than the window are held and the cursor
never jumps over them; max_batch bounds distinct targets; unknown and ignored types are
released separately; batch keys differ per batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipelines.webhooks.coalesce import plan_refresh
from pipelines.webhooks.inbox import InboxEvent

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def event(event_id, action="KohderekisteriTietoMuokkaa", ref=1, *, at=0.0, secondary=None, **kw):
    return InboxEvent(
        event_id=event_id,
        account=kw.pop("account", "demo-a"),
        action=action,
        reference_id=ref,
        reference_secondary_id=secondary,
        received_at=T0 + timedelta(seconds=at),
        **kw,
    )


def test_burst_of_100_events_on_3_records_is_one_batch_with_3_targets(mapping):
    events = [event(i, ref=(101, 102, 103)[i % 3], at=i * 0.02, secondary=7) for i in range(1, 101)]
    batch = plan_refresh(events, mapping, now=T0 + timedelta(seconds=10), window_s=5, max_batch=50)
    assert batch is not None
    assert batch.targets == {("demo-a", "kohteet", "refresh"): (101, 102, 103)}
    assert batch.event_ids == tuple(range(1, 101))
    assert batch.cursor_event_id == 100
    assert batch.scopes == {("demo-a", "kohteet"): {7: (101, 102, 103)}}


def test_window_is_respected_and_cursor_stops_at_the_first_held_event(mapping):
    events = [event(1, ref=1, at=0), event(2, ref=2, at=1), event(3, ref=3, at=8), event(4, ref=1)]
    assert (
        plan_refresh(events, mapping, now=T0 + timedelta(seconds=4), window_s=5, max_batch=10)
        is None
    )
    batch = plan_refresh(events, mapping, now=T0 + timedelta(seconds=6), window_s=5, max_batch=10)
    # event 4 is old but comes after held event 3: releasing it would jump the cursor
    assert batch.event_ids == (1, 2)
    assert batch.cursor_event_id == 2
    later = plan_refresh(
        events[2:], mapping, now=T0 + timedelta(seconds=14), window_s=5, max_batch=10
    )
    assert later.event_ids == (3, 4)
    assert later.targets == {("demo-a", "kohteet", "refresh"): (1, 3)}


def test_max_batch_bounds_distinct_targets_and_absorbs_repeats(mapping):
    events = [event(1, ref=1), event(2, ref=2), event(3, ref=1), event(4, ref=3), event(5, ref=2)]
    batch = plan_refresh(events, mapping, now=T0 + timedelta(hours=1), window_s=5, max_batch=2)
    assert batch.event_ids == (1, 2, 3)
    assert batch.cursor_event_id == 3
    assert batch.targets == {("demo-a", "kohteet", "refresh"): (1, 2)}


def test_batch_keys_differ_per_batch_and_per_retry(mapping):
    now = T0 + timedelta(hours=1)
    a = plan_refresh([event(1), event(2)], mapping, now=now, window_s=5, max_batch=10)
    b = plan_refresh([event(3), event(4)], mapping, now=now, window_s=5, max_batch=10)
    retried = plan_refresh(
        [event(1, tries=1), event(2, tries=1)], mapping, now=now, window_s=5, max_batch=10
    )
    same = plan_refresh([event(2), event(1)], mapping, now=now, window_s=5, max_batch=10)
    assert len({a.batch_key, b.batch_key, retried.batch_key}) == 3
    assert same.batch_key == a.batch_key  # deterministic: a re-planned batch is the same run


def test_actions_resources_accounts_unknown_and_ignored(mapping):
    events = [
        event(1, "KohderekisteriTietoMuokkaa", 10),
        event(2, "KohderekisteriTietoPoista", 10),  # last event wins: delete
        event(3, "KohderekisteriTietoPoista", 11),
        event(4, "KohderekisteriTietoMuokkaa", 11),  # ... or refresh
        event(5, "OsapuoliKohdeLiitosUusi", 10, secondary=555),  # links of object 10
        event(6, "OsapuoliMuokkaa", 555),
        event(7, "IlmoitusUusi", 900, account="demo-b"),
        event(8, "DokumenttipankkiDokumenttiUusi", 1),
        event(9, "TuntematonTapahtuma", 1),
        event(10, "KustannuspaikkaMuokkaa", 7),
    ]
    batch = plan_refresh(events, mapping, now=T0 + timedelta(hours=1), window_s=5, max_batch=100)
    assert batch.targets == {
        ("demo-a", "kohteet", "delete"): (10,),
        ("demo-a", "kohteet", "refresh"): (11,),
        ("demo-a", "kustannuspaikat", "refresh"): (7,),
        ("demo-a", "osapuoli_yhteydet", "refresh_scope"): (10,),
        ("demo-a", "osapuolet", "refresh"): (555,),
        ("demo-b", "ilmoitukset", "refresh"): (900,),
    }
    assert batch.event_ids == (1, 2, 3, 4, 5, 6, 7, 10)
    assert batch.ignored_event_ids == (8,)
    assert batch.unknown_event_ids == (9,)
    assert batch.cursor_event_id == 10


def test_only_unknown_events_still_make_a_batch_to_park_them(mapping):
    batch = plan_refresh(
        [event(1, "TuntematonTapahtuma")],
        mapping,
        now=T0 + timedelta(hours=1),
        window_s=5,
        max_batch=1,
    )
    assert batch.targets == {} and batch.unknown_event_ids == (1,) and batch.cursor_event_id == 1
    assert plan_refresh([], mapping, now=T0, window_s=5, max_batch=1) is None
