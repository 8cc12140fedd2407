"""What the demo shows, read from the resource declarations: which tables the demo's
accounts fill, which resource's deletions only a full scan finds, and which lists an
incremental sync reads by change time."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import TextClause, text

from pipelines.declarations import load_declarations
from pipelines.settings import AccountConfig


def synced_tables(accounts: Sequence[AccountConfig]) -> list[str]:
    """The warehouse tables (with soft deletes) of the assets the accounts sync."""
    declarations = load_declarations()
    synced = {asset for account in accounts for asset in account.synced_assets()}
    return [t for name, a in declarations.assets.items() if name in synced for t in a.tables
            if t in declarations.resources]  # fmt: skip


def rows_statement(table: str) -> TextClause:
    """Active and soft-deleted rows of a declared table (the identifier is a declared name)."""
    assert table in load_declarations().resources, table
    return text(
        "SELECT count(*) FILTER (WHERE deleted_at IS NULL),"
        f" count(*) FILTER (WHERE deleted_at IS NOT NULL) FROM tampuuri.{table}"
    )


def deletion_blind(accounts: Sequence[AccountConfig]) -> str:
    """The resource whose deletions the demo makes: the first synced asset nothing depends
    on whose list has a change-since filter and whose declaration binds no delete webhook
    (its deletions reach the warehouse only through a full scan)."""
    declarations = load_declarations()
    synced = accounts[0].synced_assets()
    depended = {after for a in declarations.assets.values() for after in a.after}
    for name in synced:
        spec = declarations.assets[name].primary.spec
        deletes = any(rule.action == "delete" for rule in spec.webhooks.values())
        if name not in depended and spec.routes.change_since and not deletes:
            return declarations.assets[name].primary.name
    raise ValueError("no synced resource whose deletions only a full scan finds")


def incremental_sentence(accounts: Sequence[AccountConfig]) -> str:
    """Which resources an incremental sync reads by change time, which it re-reads."""
    declarations = load_declarations()
    assets = [declarations.assets[a] for a in accounts[0].synced_assets()]
    since = [a.name for a in assets if a.primary.spec.routes.change_since]
    whole = [a.name for a in assets if not a.primary.spec.routes.change_since]
    return (
        f"{_and(since)} read only the rows changed since the last sync; {_and(whole)} have no"
        " change-since filter, so every sync re-reads them (and so finds their deletions)."
    )


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
