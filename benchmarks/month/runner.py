"""Run one strategy through the simulated days and count what it cost.

Time is simulated: the simulator's clock is moved from event to event, and every step
(a change, a webhook batch, a nightly job) happens at an exact simulated instant. The
API calls are real HTTP requests to the simulator (in process) and the writes are real
warehouse writes through the product's own code:

- nightly jobs: `pipelines.sync.engine.run_sync` (budget-shaped ones choose their cost
  centres with `pipelines.budget.shaping.choose_scopes`);
- webhooks: notifications are stored with `webhooks.inbox.store_bundle`, released by
  `webhooks.coalesce.plan_refresh` at each sensor tick and refreshed with
  `webhooks.refresh.refresh_targets`, then marked done.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from month.freshness import Change, FreshnessTracker, summarize
from month.profiles import ALL_RESOURCES, CHANGE_SINCE_RESOURCES, Profile
from month.world import (
    ACCOUNT,
    MONTH_START,
    SimClock,
    account_for,
    make_simulator,
    scratch_database,
    transport,
)
from sqlalchemy import Engine, text

from pipelines.budget.shaping import choose_scopes
from pipelines.settings import load_sync_settings
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.tampuuri.catalogue import load_catalogue
from pipelines.tampuuri.client import TampuuriClient
from pipelines.webhooks.coalesce import plan_refresh
from pipelines.webhooks.events import load_event_mapping
from pipelines.webhooks.inbox import mark_done, pending_events, store_bundle
from pipelines.webhooks.refresh import RefreshHints, refresh_targets

NIGHTLY_AT = timedelta(hours=2)
WORKDAY = (timedelta(hours=6), timedelta(hours=22))  # changes happen in this part of a day
# The inbox stamps received_at with the database clock; the benchmark moves it to the
# simulated arrival so that the product's coalescing rule runs in simulated time.
STAMP_ARRIVAL = text(
    "UPDATE ops.webhook_inbox SET received_at = :at WHERE event_id > :after RETURNING event_id"
)
ACTIVE_COST_CENTRES = text(
    "SELECT id FROM tampuuri.kustannuspaikat WHERE account = :account AND deleted_at IS NULL"
)


@dataclass(frozen=True)
class Workload:
    """The month's shape (the same for every strategy)."""

    seed: int = 7
    scale: int = 51_700
    days: int = 7
    changes_per_day: int = 150
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
        self.account, self.environ = account_for(self.sim)
        self.catalogue = load_catalogue()
        self.settings = load_sync_settings()
        self.mapping = load_event_mapping()
        self.tracker = FreshnessTracker(engine, self.sim.store(ACCOUNT), ACCOUNT)
        self.result = StrategyResult(profile.name, profile.description, workload.days)
        self.due: list[datetime] = []  # heap of sensor ticks at which events become due
        self.last_event_id = 0
        self.last_scan: dict[str, datetime | None] = {}
        self.phase_calls: Counter[str] = Counter()
        self.miss_rng = random.Random(f"{workload.seed}:missed-webhooks")

    # ---- the timeline ------------------------------------------------------------------
    def run(self) -> StrategyResult:
        started = time.monotonic()
        self._initial_load()
        end = MONTH_START + timedelta(days=self.workload.days)
        for day in range(self.workload.days):
            day_start = MONTH_START + timedelta(days=day)
            self._advance_to(day_start + NIGHTLY_AT)
            self._nightly(day)
            for index, at in enumerate(self._change_times(day)):
                self._advance_to(at)
                self._change(at, day * 100_000 + index)
        self._advance_to(end)
        self.result.calls = self.sim.counter.total(ACCOUNT)
        self.result.calls_by_phase = dict(self.phase_calls)
        self.result.calls_by_route = {
            f"{r['method']} {r['route']}": r["count"] for r in self.sim.transactions(ACCOUNT)
        }
        # Settle: one more night (not counted) so the last day's changes get their chance.
        self._advance_to(end + NIGHTLY_AT)
        self._nightly(self.workload.days)
        settled_at = end + NIGHTLY_AT + timedelta(seconds=1)
        self._advance_to(settled_at)
        self.result.freshness = summarize(self.tracker.changes, settled_at)
        self.result.changes = len(self.tracker.changes)
        self.result.changes_by_kind = dict(
            sorted(Counter(f"{c.resource} {c.op}" for c in self.tracker.changes).items())
        )
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
        self.result.initial_load_calls = self.sim.counter.total(ACCOUNT)
        self.sim.counter.reset()
        self.phase_calls.clear()
        self.last_scan = {str(cc): self.clock.now for cc in self._cost_centres()}

    def _change_times(self, day: int) -> list[datetime]:
        rng = random.Random(f"{self.workload.seed}:change-times:{day}")
        start, stop = WORKDAY
        span = (stop - start).total_seconds()
        base = MONTH_START + timedelta(days=day) + start
        offsets = sorted(rng.uniform(0, span) for _ in range(self.workload.changes_per_day))
        return [base + timedelta(seconds=round(o, 3)) for o in offsets]

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
    def _change(self, at: datetime, number: int) -> None:
        seed = self.workload.seed * 1_000_003 + number
        for result in self.sim.random_changes(ACCOUNT, 1, seed=seed):
            # Every notification draws, in every strategy, so all see the same misses.
            delivered = [
                n for n in result.notifications if self.miss_rng.random() >= self.workload.miss_rate
            ]
            self.result.notifications += len(result.notifications)
            self.result.notifications_missed += len(result.notifications) - len(delivered)
            self.tracker.add(Change(result.resource, result.op, result.id, at, bool(delivered)))
            if self.profile.webhooks and delivered:
                self._receive(at, delivered)
        self.tracker.check(at)  # a change that changes nothing the warehouse holds is fresh

    def _receive(self, at: datetime, notifications: list[dict[str, Any]]) -> None:
        store_bundle(self.engine, {"Attempts": 1, "Notifications": notifications})
        with self.engine.begin() as conn:
            ids = conn.execute(STAMP_ARRIVAL, {"at": at, "after": self.last_event_id}).scalars()
            self.last_event_id = max([self.last_event_id, *ids])
        heapq.heappush(self.due, self._tick_after(at + timedelta(seconds=self.profile.window_s)))

    def _tick_after(self, when: datetime) -> datetime:
        """The first sensor tick at or after `when` (ticks are multiples of tick_s)."""
        tick = self.profile.tick_s
        elapsed = (when - MONTH_START).total_seconds()
        return MONTH_START + timedelta(seconds=math.ceil(elapsed / tick) * tick)

    def _process_webhooks(self, now: datetime) -> None:
        before = self.sim.counter.total(ACCOUNT)
        while True:
            with self.engine.connect() as conn:
                events = pending_events(conn, after_event_id=0, limit=10_000, now=now)
            batch = plan_refresh(
                events, self.mapping, now=now, window_s=self.profile.window_s, max_batch=10_000
            )
            if batch is None:
                break
            released = {e.event_id: e for e in events if e.event_id <= batch.cursor_event_id}
            since: dict[str, datetime] = {}
            for event in released.values():
                rule = self.mapping.rule(event.action)
                if rule is None or rule.resource is None or event.event_timestamp is None:
                    continue
                old = since.get(rule.resource)
                since[rule.resource] = min(old, event.event_timestamp) if old else event.event_timestamp
            hints = RefreshHints(
                since=since,
                cost_centres={
                    resource: {i: cc for cc, ids in by_cc.items() for i in ids}
                    for (_account, resource), by_cc in batch.scopes.items()
                },
            )
            targets = {(res, action): ids for (_a, res, action), ids in batch.targets.items()}
            outcome = asyncio.run(self._refresh(targets, hints, batch.batch_key))
            self.result.refresh_failures += sum(len(t.failed) for t in outcome.targets)
            self.result.webhook_batches += 1
            with self.engine.begin() as conn:
                mark_done(conn, [*batch.event_ids, *batch.ignored_event_ids], batch.batch_key)
        self.phase_calls["webhooks"] += self.sim.counter.total(ACCOUNT) - before

    async def _refresh(self, targets: Any, hints: RefreshHints, run_id: str) -> Any:
        credentials = self.account.resolve_credentials(self.environ)
        client = TampuuriClient(
            ACCOUNT, self.account.base_url, credentials, transport=self.transport, trigger="webhook"
        )
        async with client:
            return await refresh_targets(
                client, self.engine, self.catalogue, ACCOUNT, targets, run_id=run_id, hints=hints
            )

    # ---- nightly jobs --------------------------------------------------------------------
    def _nightly(self, day: int) -> None:
        profile = self.profile
        if profile.nightly_full:
            self._sync("nightly-full", ALL_RESOURCES, full=True)
        elif profile.reconcile_period_days == 0:
            self._sync("nightly-incremental", ALL_RESOURCES, full=False)
        else:
            if profile.nightly_incremental:
                self._sync("nightly-incremental", CHANGE_SINCE_RESOURCES, full=False)
            self._reconcile(day, profile.reconcile_period_days)
        self.tracker.check(self.clock.now)

    def _reconcile(self, day: int, period: int) -> None:
        """Budget-shaped: the stalest ceil(n / period) cost centres; links every period."""
        for cc in self._cost_centres():
            self.last_scan.setdefault(str(cc), None)
        chosen = choose_scopes(
            self.last_scan, {}, allowance=0, period_days=period, now=self.clock.now
        )
        self._sync("reconcile-kohteet", ("kohteet",), cost_centres=tuple(int(s) for s in chosen))
        for scope in chosen:
            self.last_scan[scope] = self.clock.now
        if day % period == period - 1:
            self._sync("reconcile-links", ("osapuolet",))

    def _sync(
        self,
        phase: str,
        resources: tuple[str, ...],
        *,
        full: bool = False,
        cost_centres: tuple[int, ...] | None = None,
    ) -> None:
        before = self.sim.counter.total(ACCOUNT)
        report = run_sync(
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
        if not report.ok:
            failed = [f"{r.resource}: {r.error}" for r in report.resources if not r.ok]
            self.result.sync_failures.append(f"{phase} at {self.clock.now:%m-%d %H:%M}: {failed}")
        self.phase_calls[phase] += self.sim.counter.total(ACCOUNT) - before

    def _cost_centres(self) -> list[int]:
        with self.engine.connect() as conn:
            return list(conn.execute(ACTIVE_COST_CENTRES, {"account": ACCOUNT}).scalars())


def run_strategy(profile: Profile, workload: Workload, server_url: str) -> StrategyResult:
    """One strategy on a fresh simulator and a fresh scratch warehouse."""
    with scratch_database(server_url) as engine:
        return _Run(profile, workload, engine).run()
