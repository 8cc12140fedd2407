"""The Tampuuri API side: route catalogue, client, retries, paging, call ledger, errors.

No Dagster and no warehouse imports: the CLI, the webhook path, Dagster assets and tests
all use this package the same way. See docs/ARCHITECTURE.md for the module map.
"""
