"""What the terminal shows of a sync (pipelines/console.py): a progress bar counts only the
scopes a resource read whole (a failed resource never shows 1/1), the summary counts the
links and the parties of `osapuolet` apart, and no command prints platformdirs'
RuntimeDirWarning (XDG_RUNTIME_DIR unset, as in containers and CI)."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import httpx
import pytest
from rich.console import Console
from rich.progress import Progress

from pipelines.console import RichProgress, summary_table
from pipelines.settings import PROJECT_ROOT
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.sync.report import ResourceReport
from tests.sync.helpers import account_for


def _rendered(renderable: object) -> str:
    out = Console(file=io.StringIO(), width=200, color_system=None)
    out.print(renderable)
    return out.file.getvalue()  # type: ignore[attr-defined]


def _cells(text: str, label: str) -> list[str]:
    (line,) = [line for line in text.splitlines() if f" {label} " in line]
    return [cell.strip() for cell in line.split("│")[1:-1]]


@pytest.mark.parametrize(
    ("status", "done", "shown"), [("success", 3, 3), ("partial", 2, 2), ("failed", 0, 0)]
)
def test_a_bar_shows_the_scopes_read_whole(status: str, done: int, shown: int) -> None:
    with Progress(console=Console(file=io.StringIO())) as progress:
        bars = RichProgress(progress, "acme")
        bars.resource_started("kohteet", 3)
        bars.page_loaded("kohteet", 250)
        for _ in range(3):  # the sync ends every scope's turn, failed or not
            bars.scope_finished("kohteet")
        bars.resource_finished(
            ResourceReport("kohteet", "full", status=status, scopes_total=3, scopes_done=done)
        )
        (task,) = progress.tasks
    assert (task.completed, task.total) == (shown, 3)
    assert task.fields["status"].startswith("1 page, 250 rows")
    assert (status in task.fields["status"]) == (status != "success")


def test_the_summary_counts_links_and_parties_apart(engine) -> None:
    sim = Simulator(SimulatorConfig(seed=5, scale=300, accounts=("demo-a",)))
    account, environ = account_for(sim, "demo-a")
    report = run_sync(
        engine,
        SyncRequest(account, ("osapuolet",), full=True),
        transport=httpx.ASGITransport(app=sim.app),
        environ=environ,
    )
    assert report.ok
    links = len(sim.items("demo-a", "osapuoli_yhteydet"))
    parties = len(sim.items("demo-a", "osapuolet"))
    text = _rendered(summary_table([report]))
    link_row, party_row = _cells(text, "osapuolet: links"), _cells(text, "osapuolet: parties")
    # account, resource, mode, status, new, changed, same, deleted, calls, retries, s, 403
    assert link_row[4:8] == [str(links), "0", "0", "0"]
    assert link_row[8] == str(report.calls) and link_row[2:4] == ["full", "success"]
    assert party_row[4:8] == [str(parties), "0", "0", "0"]
    assert party_row[2] == party_row[8] == ""  # the run's figures are said once
    assert report.resource("osapuolet").counts.inserted == links + parties


def _without_runtime_dir() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_no_command_prints_a_runtime_dir_warning() -> None:
    env = _without_runtime_dir()
    # The warning comes from importing pgserver (the embedded PostgreSQL), which asks
    # platformdirs for a runtime directory; the embedded path imports it lazily.
    bare = _run(sys.executable, "-c", "import pgserver", env=env)
    if "RuntimeDirWarning" not in bare.stderr:
        pytest.skip("this platformdirs does not warn without XDG_RUNTIME_DIR")

    # The CLI's entry point (what the `tampuuri-sync` script runs) with pgserver loaded as
    # the embedded path loads it; a database URL is given, so no server is started.
    env["TAMPUURI_DATABASE_URL"] = "postgresql://someone:pw@db.invalid/warehouse"
    script = (
        "import pipelines.cli as c, pipelines.warehouse.engine as e; e.import_pgserver(); c.main()"
    )
    completed = _run(sys.executable, "-c", script, "db", "url", env=env)
    assert completed.returncode == 0, completed.stderr
    assert "db.invalid/warehouse" in completed.stdout
    assert "RuntimeDirWarning" not in completed.stderr
    assert "XDG_RUNTIME_DIR" not in completed.stderr + completed.stdout

    # Without the CLI (Dagster's code location, the benchmarks): the same import is quiet.
    completed = _run(
        sys.executable, "-c", "import pipelines.warehouse.engine as e; e.import_pgserver()", env=env
    )
    assert completed.returncode == 0, completed.stderr
    assert "XDG_RUNTIME_DIR" not in completed.stderr + completed.stdout
