"""`tampuuri-sync doctor`: check the route catalogue's [ASSUMED] facts against a live account."""

from __future__ import annotations

import json as jsonlib
from pathlib import Path
from typing import Annotated

import typer

from pipelines.console import console, print_config_error
from pipelines.doctor.plan import DEFAULT_MAX_CALLS
from pipelines.doctor.report import findings_table, plan_table, run_dict
from pipelines.doctor.run import run_doctor
from pipelines.settings import ConfigError, find_account, load_accounts


def doctor_command(
    account: Annotated[
        str | None, typer.Option(help="The account to probe (default: the first).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Spend the planned calls.")] = False,
    max_calls: Annotated[
        int, typer.Option("--max-calls", min=0, help="The most calls the doctor may spend.")
    ] = DEFAULT_MAX_CALLS,
    json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    routes: Annotated[
        Path | None,
        typer.Option(help="The route catalogue (default: routes.yaml in the config folder)."),
    ] = None,
) -> None:
    """Check each [ASSUMED] fact of the route catalogue against the live API.

    Prints the calls it will spend; only with --yes does it spend them, then prints
    confirmed / contradicted / could not tell with the evidence and writes
    catalogue_overrides.yaml beside routes.yaml, which the catalogue applies.
    """
    from pipelines.warehouse.engine import database_url, make_engine
    from pipelines.warehouse.migrations import upgrade

    try:
        accounts = load_accounts()
        chosen = find_account(accounts, account) if account else accounts[0]
    except ConfigError as exc:
        print_config_error(exc)
        raise typer.Exit(2) from None
    engine = make_engine(database_url())
    upgrade(engine)
    try:
        plan_run = run_doctor(engine, chosen, spend=False, max_calls=max_calls, routes_file=routes)
        if not json:
            console.print(plan_table(plan_run.plan, chosen.name))
        if not yes:
            if json:
                print(jsonlib.dumps(run_dict(plan_run), ensure_ascii=False, indent=2))
            else:
                console.print("0 calls spent: run again with --yes to spend them")
            return
        run = run_doctor(engine, chosen, spend=True, max_calls=max_calls, routes_file=routes)
    except ConfigError as exc:
        print_config_error(exc)
        raise typer.Exit(2) from None
    if json:
        print(jsonlib.dumps(run_dict(run), ensure_ascii=False, indent=2))
    elif run.refused is not None:
        console.print(f"[red]{run.refused}; {run.calls} call(s) spent, nothing written[/red]")
    else:
        console.print(findings_table(run))
    if run.refused is not None:
        raise typer.Exit(1)
    if any(f.verdict == "contradicted" for f in run.findings):
        raise typer.Exit(1)
