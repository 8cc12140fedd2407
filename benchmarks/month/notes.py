"""Fixed text of the report: how the numbers were made (kept next to the code that makes them)."""

from __future__ import annotations

METHOD = """\
How it was measured (`benchmarks/bench_month.py`, modules in `benchmarks/month/`):

- Portfolio: the simulator cannot be steered to all three reference numbers at once: its
  generator builds about 32 apartments and 2 parties per apartment per cost centre, so the
  scale that gives 300 cost centres (the number that drives the per-cost-centre object
  scans, the dominant cost) gives the apartments and parties listed above, not 12,000 and
  25,000. With 25,000 parties the link list would be about 100 pages instead of 79, so
  every strategy that scans links would spend about 21 calls more per link scan.
- Time is simulated and compressed: 7 days, not 30; calls are counted over the 7 days
  (after an uncounted initial full load) and multiplied by 30/7. Each day: the nightly job
  at 02:00, then the day's changes at random times between 06:00 and 22:00
  (`Simulator.random_changes`, the simulator's realistic mix: about 60 % notice changes,
  so about 2,700 notice changes a month), each change firing its webhook notifications.
  2 % of notifications are lost (never reach the inbox), the same ones in every strategy.
- Every strategy runs on a fresh simulator (same seed, same changes) and a fresh scratch
  warehouse. Every call is a real HTTP request to the simulator and counted by its
  transaction counter; writes go through the product's loader.
- Webhooks: notifications are stored with `inbox.store_bundle` at their simulated arrival
  and processed at each sensor tick by the product's `process_inbox_once` (coalescing
  window, targeted refresh). Nightly job of the webhook strategies: the product's
  `reconcile_account` (Limit=1 probes of the account-wide lists, change-since
  incrementals, a full re-scan of any list whose Total drifted, the stalest
  ceil(300 / full_scan_period_days) cost centres' objects). The budget guard never binds:
  the account is on the Business package and webhook batches skip the check. The guard
  reads the wall-clock billing cycle, so in compressed time it would see a week's calls
  spent in minutes and defer runs; the strategies are compared on what they spend.
- Freshness: after every step that writes the warehouse, each outstanding change is
  checked; it is fresh at the first check where the warehouse row equals the simulator's
  current row (or both say it is gone). Processing takes no simulated time. Changes still
  stale after one extra (uncounted) night are reported as a lower bound ("≥").
"""
