"""Fixed text of the report: how the numbers were made (kept next to the code that makes them)."""

from __future__ import annotations

METHOD = """\
How it was measured (`benchmarks/bench_month.py`, modules in `benchmarks/month/`):

- Portfolio: the simulator cannot be steered to all three reference numbers at once: its
  generator builds about 32 apartments and 2 parties per apartment per cost centre, so the
  scale that gives 300 cost centres (the number that drives the per-cost-centre object
  scans, the dominant cost) gives the apartments and parties listed above, not 12,000 and
  25,000. With 25,000 parties the link list would be about 100 pages instead of 79, so
  every strategy that scans links in full would spend about 21 calls more per link scan.
- Time is simulated and compressed: every day of the month is run (30 days: nothing is
  extrapolated, so once-a-month work such as a monthly link re-scan is counted as often
  as it happens), after an uncounted initial full load. Each day: the nightly job at
  02:00, then 150 changes at random times between 06:00 and 22:00: 100 new notices (the
  reference's 3,000 a month) and 50 drawn from the simulator's realistic mix without new
  notices (`Simulator.random_changes`: notice status changes, object edits, party edits,
  new links, rare deletes of objects, parties and links), each change firing its webhook
  notifications (about 150 a day; a deleted link fires none, a deleted building one per
  object). 2 % of notifications are lost (never reach the inbox), the same ones in every
  strategy.
- Every strategy runs on a fresh simulator (same seed, same changes) and a fresh scratch
  warehouse. Every call is a real HTTP request to the simulator and counted by its
  transaction counter; writes go through the product's loader.
- Webhooks: notifications are stored with `inbox.store_bundle` at their simulated arrival
  and processed at each sensor tick by the product's `process_inbox_once` (coalescing
  window, targeted refresh). Nightly job of the webhook strategies: the product's
  `reconcile_account` (Limit=1 probes of the account-wide lists, change-since
  incrementals, a drifted list searched by bisection or re-read in full at most once per
  `list_rescan_period_days`, the stalest ceil(300 / full_scan_period_days) cost centres'
  objects). The sync stamps `ops.sync_state.last_full_scan_at` with the database clock;
  the runner moves those stamps to the simulated instant, as it does the inbox's arrival
  times, so the sweep's periods run in simulated time. The budget guard never binds: the
  account is on the Business package and webhook batches skip the check. The guard reads
  the wall-clock billing cycle, so in compressed time it would see a month's calls spent
  in minutes and defer runs; the strategies are compared on what they spend.
- Freshness: after every step that writes the warehouse, each outstanding change is
  checked; it is fresh at the first check where the warehouse row equals the simulator's
  current row (or both say it is gone). Processing takes no simulated time. Changes still
  stale after one extra (uncounted) night are reported as a lower bound ("≥").
"""

PROPOSALS = """\
Reading the numbers (from the recorded run above):

- Nightly incremental saves almost nothing at this portfolio (11,506 vs 11,812 calls):
  only cost centres and notices have a change-since filter; the 300 per-cost-centre
  object scans and the 79-page link list are re-read in full every night.
- The default (webhooks refreshed within seconds, plus the nightly sweep) spends 6,280
  calls, 0.53 of naive, in two halves. Webhook refreshes: 4,386, 0.97 calls per change:
  150 changes over a 16-hour working day are about 6 minutes apart, so nearly every
  change is a batch of its own, and a notification carries only ids, so every batch
  costs a call. The sweep: 1,894: 43 cost centres' objects a night (1,290), 3 probes and
  2 change-since incrementals a night (150), the link list read in full once a week (4 x
  80), and on nights with deleted links (26 of 30) a search of the link list instead of
  a full read (about 15 calls instead of 79).
- A fifth of naive (2,362 calls) is out of reach for any strategy that meets the
  default's freshness goals, because of two floors, each above it on its own:
  1. Webhook-covered changes within a minute: a batch may wait at most a minute, and
     every batch needs at least one call. With 150 changes a day at random times over
     16 hours (0.156 a minute), even an ideal batcher forms 960 x (1 - e^-0.156) = 139
     batches a day: about 4,170 calls a month, 1.8 times the whole allowance before any
     reconciliation. The measured curve shows where the calls go as batches grow:
     webhook refreshes cost 4,386 (seconds), 3,487 (5 minutes), 2,354 (15 minutes) and
     1,190 (hourly).
  2. Everything within a day: objects have no change-since filter, so an object change
     whose webhook was lost is found only by re-reading its cost centre. Doing that
     within a day for every cost centre is 300 calls a night, 9,000 a month (3.8 times
     the allowance). default-daily meets "everything within a day" (max 19.7 h) at 15,957
     calls. The default re-reads each cost centre within 7 nights and the link list
     weekly: a lost object or party update waits up to a week (max 6.8 days measured),
     while deletions that fire no webhook (links) are found the same night and new
     rows whose webhook was lost are caught by the next link event or the nightly
     incrementals.
- Frugal: frugal-monthly fits Standard, 1,735 calls with webhook-covered changes within
  an hour: hourly batches (1,190: the notice list, the party batch route and one read of
  the link list's end per batch, one detail call per changed object) and a sweep that
  re-reads every cost centre and the link list once in 30 days (545). Spreading the
  cost centres over a week instead ("frugal", 2,725) cannot fit: the weekly object
  re-reads alone are 300 x 30 / 7 = 1,286 calls and the hourly notice refreshes at least
  16 x 30 = 480, before objects, parties, links and probes. The price of the monthly
  spread: a change whose webhook was lost waits up to a month (25 days or more
  measured).
- € columns: the monthly fee plus overage at `overage_eur_per_call` from
  config/packages.yaml, which is a placeholder (Tampuuri's overage price is not public).

What changed in the product since the previous recording (7 simulated days x 30/7, 150
changes a day of the simulator's mix: default 7,646, frugal 5,404, frugal-monthly
4,260 calls a month):

1. New links are refreshed by one read of the link list's end (`tampuuri/tail.py`)
   instead of one object-filtered scan per object: ids ascend, so links newer than the
   warehouse's newest are at the end (catalogue flag `ordered_by_id`).
2. A drifted ordered list is searched (`sync/drift.py`): its end, then a bisection over
   pages for the deleted rows, about 8 calls per deletion where a full read of the link
   list is 79; it falls back to the full read when the search would not be cheaper or a
   read contradicts the assumptions.
3. Lists without a change-since filter are re-read in full once per
   `list_rescan_period_days` (the link list carries the parties, whose lost updates
   nothing else catches); what a drift does is the account's `on_drift`: "locate" the
   same night, or "wait" for that periodic read (frugal).
4. Change-since incrementals run before drift is handled: they settle drift from rows
   added whose webhook was lost, so only deletions are searched.
5. The benchmark: a whole month of days (nothing extrapolated), the reference
   portfolio's 3,000 new notices a month, scan stamps in simulated time, and the sweep
   starting in its steady state.
"""

FLOOR_NOTES = """\
Issue 19.3: for three profiles (freshness target + reconciliation cadence) on two
portfolios, the product's calls over the simulated days against the floor: the fewest
calls any strategy could make over the same days and still meet both targets
(`benchmarks/month/floor.py`, whose docstring is the definition). TODO
"""
