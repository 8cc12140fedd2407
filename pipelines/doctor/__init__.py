"""`tampuuri-sync doctor`: check the route catalogue's [ASSUMED] facts against a live account.

- `findings.py`: the assumptions checked and what a check found (`Finding`).
- `plan.py`: which probes run and what each costs, before any call (pure).
- `known_rows.py`: what the warehouse already knows (a deleted row, active ids), no call.
- `reads.py`: the read helpers the probes share (one page, each list's first page once).
- `probes_paging.py`, `probes_filters.py`, `probes_routes.py`: the probes themselves.
- `run.py`: the budget check, the ledgered session and the probes in order.
- `override_file.py`: writes `catalogue_overrides.yaml`, which the catalogue applies.
- `report.py`: the plan and findings as rich tables; `cli.py`: the command.
"""
