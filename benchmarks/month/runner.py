"""Run one strategy through the simulated days and count what it cost.

Time is simulated: the simulator's clock is moved from event to event, and every step
(a change, a webhook batch, a nightly job) happens at an exact simulated instant. The
API calls are real HTTP requests to the simulator (in process) and the writes are real
warehouse writes through the product's own code:

- naive / incremental nightly jobs: `pipelines.sync.engine.run_sync`;
- the webhook profiles' nightly job: `pipelines.sync.reconcile.reconcile_account` (probes,
  change-since incrementals, re-scans of drifted lists, the stalest cost centres' objects);
- webhooks: notifications are stored with `webhooks.inbox.store_bundle` at their simulated
  arrival and processed at every sensor tick by `webhooks.process.process_inbox_once`
  (coalescing window, targeted refresh, events marked done).
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from month.floor import Delivery, month_floor, portfolio_pages
from month.freshness import Change, FreshnessTracker, summarize
from month.profiles import ALL_RESOURCES, Profile
from month.world import (
    ACCOUNT,
    MONTH_START,
    SimClock,
    account_for,
    make_simulator,
    scratch_database,
    transport,
)
from pipelines.settings import load_sync_settings
from pipelines.simulator.random_changes import RANDOM_MIX, Mix
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.sync.reconcile import reconcile_account
from pipelines.sync.report import SyncReport
from pipelines.tampuuri.catalogue import load_catalogue
from pipelines.webhooks.events import load_event_mapping
from pipelines.webhooks.inbox import store_bundle
from pipelines.webhooks.process import process_inbox_once

NIGHTLY_AT = timedelta(hours=2)
WORKDAY = (timedelta(hours=6), timedelta(hours=22))  # changes happen in this part of a day
# The inbox stamps received_at with the database clock; the benchmark moves it to the
# simulated arrival so that the product's coalescing rule runs in simulated time.
STAMP_ARRIVAL = text(
    "UPDATE ops.webhook_inbox SET received_at = :at WHERE event_id > :after RETURNING event_id"
)
# Likewise the sync stamps ops.sync_state.last_full_scan_at with the database clock; the
# sweep compares it with its `now` (stalest cost centres, list re-scan periods), so every
# step's stamps are moved to the simulated instant it ran at.
DB_CLOCK = text("SELECT clock_timestamp()")
STAMP_SCANS = text(
    "UPDATE ops.sync_state SET last_full_scan_at = :at WHERE last_full_scan_at >= :since"
)
# And the runs' times: the sweep counts the scopes re-read since its previous fan-out run
# ended (`sync/sweep_scopes.reread_since`).
STAMP_RUNS = text(
    "UPDATE ops.sync_runs SET started_at = :at, finished_at = :at WHERE started_at >= :since"
)
# The month starts in the sweep's steady state, not the day after a first load: cost
# centres' last full reads spread evenly over their period, every list last read in full
# half its period ago (so a monthly read falls inside the month once, as it would).
SPREAD_OBJECT_SCANS = text(
    "UPDATE ops.sync_state s SET last_full_scan_at ="
    " :start - make_interval(secs => :period_s * r.rank / r.n)"
    " FROM (SELECT scope, row_number() OVER (ORDER BY scope::bigint) - 1 AS rank,"
    " count(*) OVER () AS n FROM ops.sync_state WHERE resource = 'kohteet') r"
    " WHERE s.resource = 'kohteet' AND s.scope = r.scope"
)
AGE_LIST_SCANS = text(
    "UPDATE ops.sync_state SET last_full_scan_at = :start - make_interval(secs => :age_s)"
    " WHERE scope = ''"
)
# The reference portfolio's 3,000 notices a month: new notices are drawn apart from the
# day's other changes, which follow the simulator's realistic mix without new notices.
NEW_NOTICE: Mix = ((1, "ilmoitukset", "insert"),)
OTHER_CHANGES: Mix = tuple(m for m in RANDOM_MIX if m[1:] != ("ilmoitukset", "insert"))


@dataclass(frozen=True)
class Workload:
    """The month's shape (the same for every strategy)."""

    seed: int = 7
    scale: int = 51_700
    days: int = 30
    changes_per_day: int = 150
    # Of the day's changes, this many are new notices (3,000 a month).
    new_notices_per_day: int = 100
    miss_rate: float = 0.02


@dataclass
class StrategyResult:
    """What one strategy spent and how fresh it kept the warehouse."""

    profile: str
    description: str
    days: int
    calls: int = 0
    calls_by_phase: dict[str, int] = field(default_factory=dict)
    calls_by_route: dict[str, int] = field(default_factory=dict)
    initial_load_calls: int = 0
    changes: int = 0
    changes_by_kind: dict[str, int] = field(default_factory=dict)
    notifications: int = 0
    notifications_missed: int = 0
    webhook_batches: int = 0
    refresh_failures: int = 0
    sync_failures: list[str] = field(default_factory=list)
    freshness: dict[str, Any] = field(default_factory=dict)
    portfolio: dict[str, int] = field(default_factory=dict)
    reconcile_runs: list[dict[str, Any]] = field(default_factory=list)
    floor: dict[str, Any] = field(default_factory=dict)
    # The floor's inputs, so a report can recompute it: delivered notifications as
    # [seconds after the month's start, Action, ReferenceId, ReferenceSecondaryId], and
    # the pages of the portfolio's lists.
    trace: list[list[Any]] = field(default_factory=list)
    floor_portfolio: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def calls_per_month(self) -> int:
        return round(self.calls * 30 / self.days)


class _Run:
    """The state of one strategy's simulated days."""

    def __init__(self, profile: Profile, workload: Workload, engine: Engine) -> None:
        self.profile = profile
        self.workload = workload
        self.engine = engine
        self.clock = SimClock(MONTH_START)
        self.sim = make_simulator(workload.seed, workload.scale, self.clock)
        self.transport = transport(self.sim)
        self.account, self.environ = account_for(
            self.sim,
            profile.reconcile_period_days,
            profile.list_rescan_period_days,
            profile.on_drift,
            profile.cadence_days,
            profile.target_s,
        )
        self.catalogue = load_catalogue()
        self.settings = load_sync_settings()
        self.mapping = load_event_mapping()
        self.tracker = FreshnessTracker(engine, self.sim.store(ACCOUNT), ACCOUNT)
        self.result = StrategyResult(profile.name, profile.description, workload.days)
        self.due: list[datetime] = []  # heap of sensor ticks at which events become due
        self.last_event_id = 0
        self.reconcile_log: list[dict[str, Any]] = []
        self.phase_calls: Counter[str] = Counter()
        self.miss_rng = random.Random(f"{workload.seed}:missed-webhooks")
        self.trace: list[Delivery] = []  # delivered notifications (the floor's input)

    # ---- the timeline ------------------------------------------------------------------
    def run(self) -> StrategyResult:
        started = time.monotonic()
        self._initial_load()
        end = MONTH_START + timedelta(days=self.workload.days)
        for day in range(self.workload.days):
            day_start = MONTH_START + timedelta(days=day)
            self._advance_to(day_start + NIGHTLY_AT)
            self._nightly(day)
            for index, (at, mix) in enumerate(self._change_plan(day)):
                self._advance_to(at)
                self._change(at, day * 100_000 + index, mix)
        self._advance_to(end)
        self.result.calls = self.sim.counter.total(ACCOUNT)
        self.result.calls_by_phase = dict(self.phase_calls)
        by_route: Counter[str] = Counter()
        for r in self.sim.transactions(ACCOUNT):
            status = "" if r["status"] == 200 else f" [{r['status']}]"
            by_route[f"{r['method']} {r['route']}{status}"] += r["count"]
        self.result.calls_by_route = dict(sorted(by_route.items()))
        if self.profile.target_s is not None:
            self.result.trace = [d.row(MONTH_START) for d in self.trace]
            self.result.floor_portfolio = self.floor_portfolio
        self.result.floor = month_floor(
            self.trace,
            self.mapping,
            self.floor_portfolio,
            start=MONTH_START,
            target_s=self.profile.target_s,
            cadence_days=self.profile.cadence_days,
            days=self.workload.days,
        )
        # Settle (not counted): one more night so the last day's changes get their chance;
        # with a cadence, up to a cadence of nights, until nothing is stale.
        nights = self.profile.cadence_days or 1
        for night in range(nights):
            self._advance_to(end + timedelta(days=night) + NIGHTLY_AT)
            self._nightly(self.workload.days + night)
            if not self.tracker.open_changes:
                break
        settled_at = self.clock.now + timedelta(seconds=1)
        self._advance_to(settled_at)
        self.result.freshness = summarize(self.tracker.changes, settled_at)
        self.result.changes = len(self.tracker.changes)
        self.result.changes_by_kind = dict(
            sorted(Counter(f"{c.resource} {c.op}" for c in self.tracker.changes).items())
        )
        self.result.reconcile_runs = self.reconcile_log
        self.result.wall_s = round(time.monotonic() - started, 1)
        return self.result

    def _initial_load(self) -> None:
        self.result.portfolio = {
            resource: len(self.sim.items(ACCOUNT, resource))
            for resource in ("kustannuspaikat", "kohteet", "osapuolet", "osapuoli_yhteydet",
                             "ilmoitukset")
        }  # fmt: skip
        self.result.portfolio["huoneistot"] = sum(
            1 for o in self.sim.items(ACCOUNT, "kohteet") if o["Metaname"] == "huoneisto"
        )
        self._sync("initial", ALL_RESOURCES, full=True)
        self.floor_portfolio = portfolio_pages(self.sim.store(ACCOUNT), self.catalogue)
        day = 86_400
        # With a cadence the link list's last full read is a whole period ago, so that
        # its periodic read falls on the first night the list is looked at (steady state).
        list_age = 1.0 if self.profile.cadence_days else 0.5
        with self.engine.begin() as conn:
            conn.execute(
                SPREAD_OBJECT_SCANS,
                {
                    "start": MONTH_START,
                    "period_s": max(1, self.profile.reconcile_period_days) * day,
                },
            )
            conn.execute(
                AGE_LIST_SCANS,
                {
                    "start": MONTH_START,
                    "age_s": self.profile.list_rescan_period_days * day * list_age,
                },
            )
        self.result.initial_load_calls = self.sim.counter.total(ACCOUNT)
        self.sim.counter.reset()
        self.phase_calls.clear()

    def _change_plan(self, day: int) -> list[tuple[datetime, Mix]]:
        """The day's change times (uniform over the working day) and what each draws from."""
        workload = self.workload
        rng = random.Random(f"{workload.seed}:change-times:{day}")
        start, stop = WORKDAY
        span = (stop - start).total_seconds()
        base = MONTH_START + timedelta(days=day) + start
        offsets = sorted(rng.uniform(0, span) for _ in range(workload.changes_per_day))
        new_notices = min(workload.new_notices_per_day, workload.changes_per_day)
        mixes = [NEW_NOTICE] * new_notices + [OTHER_CHANGES] * (len(offsets) - new_notices)
        rng.shuffle(mixes)
        return [
            (base + timedelta(seconds=round(o, 3)), mix)
            for o, mix in zip(offsets, mixes, strict=True)
        ]

    def _advance_to(self, when: datetime) -> None:
        """Run every sensor tick due up to `when`, then set the clock to `when`."""
        while self.due and self.due[0] <= when:
            tick = heapq.heappop(self.due)
            while self.due and self.due[0] <= tick:
                heapq.heappop(self.due)
            self.clock.set(tick)
            self._process_webhooks(tick)
            self.tracker.check(tick)
        self.clock.set(when)

    # ---- changes and webhooks ------------------------------------------------------------
    def _change(self, at: datetime, number: int, mix: Mix) -> None:
        seed = self.workload.seed * 1_000_003 + number
        for result in self.sim.random_changes(ACCOUNT, 1, seed=seed, mix=mix):
            # Every notification draws, in every strategy, so all see the same misses.
            delivered = [
                n for n in result.notifications if self.miss_rng.random() >= self.workload.miss_rate
            ]
            self.result.notifications += len(result.notifications)
            self.result.notifications_missed += len(result.notifications) - len(delivered)
            self.tracker.add(Change(result.resource, result.op, result.id, at, bool(delivered)))
            if self.profile.webhooks and delivered:
                self.trace.extend(Delivery.of(at, n) for n in delivered)
                self._receive(at, delivered)
        self.tracker.check(at)  # a change that changes nothing the warehouse holds is fresh

    def _receive(self, at: datetime, notifications: list[dict[str, Any]]) -> None:
        store_bundle(self.engine, {"Attempts": 1, "Notifications": notifications})
        with self.engine.begin() as conn:
            ids = conn.execute(STAMP_ARRIVAL, {"at": at, "after": self.last_event_id}).scalars()
            self.last_event_id = max([self.last_event_id, *ids])
        target = self.profile.target_s
        if target is None:
            heapq.heappush(
                self.due, self._tick_after(at + timedelta(seconds=self.profile.window_s))
            )
        else:
            # The per-(account, route) window (`profiles/windows.py`): a group goes when its
            # oldest event is `target` old, and any of these may be a group's oldest; a
            # tick at which no group is due releases nothing and calls nothing.
            heapq.heappush(self.due, at + timedelta(seconds=target))

    def _tick_after(self, when: datetime) -> datetime:
        """The first sensor tick at or after `when` (ticks are multiples of tick_s)."""
        tick = self.profile.tick_s
        elapsed = (when - MONTH_START).total_seconds()
        return MONTH_START + timedelta(seconds=math.ceil(elapsed / tick) * tick)

    def _process_webhooks(self, now: datetime) -> None:
        """The product's inbox pass at sensor tick `now`, until nothing more is due."""
        before = self.sim.counter.total(ACCOUNT)
        # A complete scope scan served for a webhook may stamp its scope's full scan.
        with self._scans_in_simulated_time():
            self._drain_inbox(now)
        self.phase_calls["webhooks"] += self.sim.counter.total(ACCOUNT) - before

    def _drain_inbox(self, now: datetime) -> None:
        while True:
            outcome = process_inbox_once(
                self.engine,
                accounts=[self.account],
                catalogue=self.catalogue,
                transport=self.transport,
                environ=self.environ,
                now=now,
                # target_s: the account's profile window holds each route's events until
                # its oldest is F old (`profiles/inbox_windows.py`); the tick is a due time.
                window_s=self.profile.window_s if self.profile.target_s is None else 0.0,
                mapping=self.mapping,
                settings=self.settings,
                # The guard reads the wall-clock billing cycle; the benchmark counts instead.
                check_budget=False,
            )
            if outcome.batch_key is None:
                break
            self.result.webhook_batches += 1
            self.result.refresh_failures += outcome.failed + outcome.dead

    # ---- nightly jobs --------------------------------------------------------------------
    def _nightly(self, day: int) -> None:
        profile = self.profile
        if profile.nightly_full:
            self._sync("nightly-full", ALL_RESOURCES, full=True)
        elif profile.reconcile_period_days == 0:
            self._sync("nightly-incremental", ALL_RESOURCES, full=False)
        else:
            self._reconcile()
        self.tracker.check(self.clock.now)

    def _reconcile(self) -> None:
        """The product's sweep: probes, incrementals, drifted re-scans, stalest cost centres."""
        before = self.sim.counter.total(ACCOUNT)
        with self._scans_in_simulated_time():
            report = reconcile_account(
                self.engine,
                self.account,
                catalogue=self.catalogue,
                transport=self.transport,
                environ=self.environ,
                settings=self.settings,
                now=self.clock.now,
            )
        if not report.ok:
            self.result.sync_failures.append(f"reconcile at {self.clock.now:%m-%d %H:%M}")
        spent = self.sim.counter.total(ACCOUNT) - before
        self.reconcile_log.append(
            {
                "at": self.clock.now.isoformat(),
                "calls": spent,
                "drifted": report.drifted,
                "deferred": report.deferred,
                "reread": report.rescanned,
                "cost_centres": len(report.cost_centres),
            }
        )
        self.phase_calls["reconcile"] += spent

    def _sync(
        self,
        phase: str,
        resources: tuple[str, ...],
        *,
        full: bool = False,
        cost_centres: tuple[int, ...] | None = None,
    ) -> None:
        before = self.sim.counter.total(ACCOUNT)
        with self._scans_in_simulated_time():
            report = self._run_sync(resources, full=full, phase=phase, cost_centres=cost_centres)
        if not report.ok:
            failed = [f"{r.resource}: {r.error}" for r in report.resources if not r.ok]
            self.result.sync_failures.append(f"{phase} at {self.clock.now:%m-%d %H:%M}: {failed}")
        self.phase_calls[phase] += self.sim.counter.total(ACCOUNT) - before

    @contextmanager
    def _scans_in_simulated_time(self) -> Iterator[None]:
        """Move the full-scan stamps the step writes from the database clock to simulated time."""
        with self.engine.connect() as conn:
            since = conn.execute(DB_CLOCK).scalar_one()
        yield
        with self.engine.begin() as conn:
            conn.execute(STAMP_SCANS, {"at": self.clock.now, "since": since})
            conn.execute(STAMP_RUNS, {"at": self.clock.now, "since": since})

    def _run_sync(
        self,
        resources: tuple[str, ...],
        *,
        full: bool,
        phase: str,
        cost_centres: tuple[int, ...] | None,
    ) -> SyncReport:
        return run_sync(
            self.engine,
            SyncRequest(
                self.account,
                resources=resources,
                full=full,
                trigger=phase,
                cost_centres=cost_centres,
                # Budget admission reads the wall clock and the real billing cycle; the
                # benchmark shapes its runs itself, in simulated time, with the same
                # shaping function.
                enforce_budget=False,
            ),
            catalogue=self.catalogue,
            settings=self.settings,
            transport=self.transport,
            environ=self.environ,
        )


def run_strategy(profile: Profile, workload: Workload, server_url: str) -> StrategyResult:
    """One strategy on a fresh simulator and a fresh scratch warehouse."""
    with scratch_database(server_url) as engine:
        return _Run(profile, workload, engine).run()
