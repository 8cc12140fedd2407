"""What the webhook sensor dispatched and to which run: its cursor, and one tick's plan (pure).

Event ids come from a sequence allocated before commit, so with concurrent receivers a
lower id routinely becomes visible after a higher one: a high-water mark would pass it
over for good. The cursor therefore holds no mark at all, only the events dispatched to
runs that have not finished (exact ids, kept as ranges). A tick settles it first: a run
that finished lets its events go (done ones are no longer due; those of a run that failed,
was canceled, or whose worker died, which Dagster's run monitoring marks failed, are due
again); a run Dagster never shows within `grace_s` is treated as lost. Every due event
not held by a run in flight is then a candidate, whatever its id.

The cursor stays bounded: at most `max_in_flight` runs, each holding at most the events
one tick reads.

Run keys carry a dispatch number, so events re-dispatched after a failed run get a new
key (Dagster never launches two runs with one key), while a tick that is evaluated twice
with the same cursor repeats the same key and launches nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import orjson

from pipelines.webhooks.coalesce import RefreshBatch, plan_refresh
from pipelines.webhooks.events import EventMapping
from pipelines.webhooks.inbox import InboxEvent

RunState = Literal["active", "succeeded", "failed", "missing"]
DEFAULT_MAX_IN_FLIGHT = 16
DEFAULT_GRACE_S = 120.0


@dataclass(frozen=True)
class InFlight:
    """One dispatched run: its key, the events it holds, when it was dispatched (epoch s)."""

    run_key: str
    event_ids: tuple[int, ...]
    dispatched_at: float


@dataclass(frozen=True)
class DispatchCursor:
    """The sensor's cursor: a dispatch counter and the runs not yet finished."""

    seq: int = 0
    runs: tuple[InFlight, ...] = ()

    @property
    def held(self) -> set[int]:
        return {event_id for run in self.runs for event_id in run.event_ids}

    def to_text(self) -> str:
        runs = {r.run_key: {"ids": _ranges(r.event_ids), "at": r.dispatched_at} for r in self.runs}
        return orjson.dumps({"seq": self.seq, "runs": runs}).decode()

    @classmethod
    def from_text(cls, text: str | None) -> DispatchCursor:
        """Parse a cursor; an empty one, or the old high-water mark (an integer), is empty.

        An old mark held no run information: events of runs in flight at the upgrade may
        be dispatched once more, which refreshes the same rows again and loses nothing.
        """
        if not text or text.strip().isdigit():
            return cls()
        data = orjson.loads(text)
        runs = tuple(
            InFlight(key, _expand(value["ids"]), float(value["at"]))
            for key, value in data["runs"].items()
        )
        return cls(seq=int(data["seq"]), runs=runs)


@dataclass(frozen=True)
class TickPlan:
    """One tick's decision: the batch to run (if any), its run key, the next cursor."""

    batch: RefreshBatch | None
    run_key: str | None
    cursor: DispatchCursor
    reason: str = ""


def settle(
    cursor: DispatchCursor, states: Mapping[str, RunState], *, now: float, grace_s: float
) -> tuple[DispatchCursor, tuple[str, ...]]:
    """Let go of the runs that finished, and of runs still missing `grace_s` after dispatch.

    Returns the cursor of the runs still in flight, and the keys of the runs let go whose
    events may be due again (failed, canceled, or lost; a succeeded run leaves none due).
    """
    kept: list[InFlight] = []
    again: list[str] = []
    for run in cursor.runs:
        state = states.get(run.run_key, "missing")
        if state == "active" or (state == "missing" and now - run.dispatched_at <= grace_s):
            kept.append(run)
        elif state != "succeeded":
            again.append(run.run_key)
    return DispatchCursor(seq=cursor.seq, runs=tuple(kept)), tuple(again)


def plan_tick(
    events: Sequence[InboxEvent],
    mapping: EventMapping,
    *,
    cursor: DispatchCursor,
    now: datetime,
    window_s: float,
    max_batch: int,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
) -> TickPlan:
    """The batch released at `now` from due events that no run in flight holds."""
    held = cursor.held
    free = [e for e in events if e.event_id not in held]
    if len(cursor.runs) >= max_in_flight:
        reason = f"{len(cursor.runs)} webhook runs in flight (at most {max_in_flight})"
        return TickPlan(None, None, cursor, reason)
    batch = plan_refresh(free, mapping, now=now, window_s=window_s, max_batch=max_batch)
    if batch is None:
        reason = f"{len(free)} event(s) inside the window" if free else "no due events"
        return TickPlan(None, None, cursor, reason)
    run_key = f"{batch.batch_key}-d{cursor.seq + 1}"
    dispatched = InFlight(run_key, batch_event_ids(batch), now.timestamp())
    after = DispatchCursor(seq=cursor.seq + 1, runs=(*cursor.runs, dispatched))
    return TickPlan(batch, run_key, after)


def batch_event_ids(batch: RefreshBatch) -> tuple[int, ...]:
    """Every event a batch's run handles: refreshed, unknown and ignored ones."""
    return tuple(sorted({*batch.event_ids, *batch.unknown_event_ids, *batch.ignored_event_ids}))


def _ranges(ids: Iterable[int]) -> list[list[int]]:
    """Sorted ids as [first, last] runs of consecutive integers (exact, compact)."""
    out: list[list[int]] = []
    for event_id in sorted(set(ids)):
        if out and event_id == out[-1][1] + 1:
            out[-1][1] = event_id
        else:
            out.append([event_id, event_id])
    return out


def _expand(ranges: Iterable[Sequence[int]]) -> tuple[int, ...]:
    return tuple(i for first, last in ranges for i in range(first, last + 1))
