"""Per-account spending profiles at run time: each account's webhook window, and how far
the product has loosened its profile while the cycle's forecast is over its package.

- `windows.py`: which accounts' waiting webhook events are due (pure); `webhooks/held_events.py`:
  the same for `tampuuri-sync webhooks process`
- `cadence.py`: which lists the reconciliation sweep probes tonight (pure)
- `adaptive.py`: the step up or down the forecast calls for (pure)
- `state.py`: the adjustments stored in ops.profile_adjustments
- `adapt.py`: one evaluation of every account (forecast, step, store, log)
- `describe.py`: the profile and its adjustment said for `budget` and Dagster

The profiles themselves are settings: `pipelines/settings/profiles.py`, config/profiles.yaml.
"""
