"""A production install needs no more than it declares, and declares nothing it does not use.

The `local` extra (the simulator's Faker, the embedded PostgreSQL's pgserver) is left out of
a production install (`pip install .`, the Docker image). Here the two packages are made
unimportable in a subprocess (`sys.modules[name] = None`, as if they were not installed):
the Dagster definitions and the CLI still load, and the commands that need the extra say
which one instead of a traceback. deptry checks pyproject.toml against the imports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib

import pytest

from pipelines.local_extra import LOCAL_EXTRA, LOCAL_PACKAGES
from pipelines.settings import PROJECT_ROOT

_WITHOUT_EXTRA = "; ".join(f"sys.modules[{name!r}] = None" for name in LOCAL_PACKAGES)
_INSTALL_HINT = f"tampuuri-sync[{LOCAL_EXTRA}]"


def _run_without_extra(code: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "COLUMNS": "200", **env}
    return subprocess.run(
        [sys.executable, "-c", f"import sys; {_WITHOUT_EXTRA}; {code}", *args],
        cwd=PROJECT_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _cli_without_extra(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return _run_without_extra("import pipelines.cli as cli; cli.main()", *args, **env)


def test_the_local_packages_are_an_extra_not_a_dependency() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    required = {spec.split(">")[0].split("=")[0].split("[")[0] for spec in project["dependencies"]}
    extra = {spec.split(">")[0] for spec in project["optional-dependencies"][LOCAL_EXTRA]}
    assert set(LOCAL_PACKAGES) <= extra
    assert not set(LOCAL_PACKAGES) & required


def test_the_dagster_definitions_and_the_cli_load_without_the_extra() -> None:
    completed = _run_without_extra(
        "import pipelines.definitions, pipelines.cli;"
        " print(sorted(m for m in sys.modules if m.startswith('pipelines.simulator')))"
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"

    helped = _cli_without_extra("--help")
    assert helped.returncode == 0, helped.stderr
    for command in ("sync", "db", "webhooks", "budget", "plan", "simulator"):
        assert command in helped.stdout


@pytest.mark.parametrize(
    ("args", "env", "command", "missing"),
    [
        (("simulator", "serve", "--port", "8765"), {}, "`tampuuri-sync simulator`", "faker"),
        (("demo",), {}, "`tampuuri-sync demo`", "faker, pgserver"),
        (("ui",), {}, "`tampuuri-sync ui`", "faker, pgserver"),
        (("db", "upgrade"), {"TAMPUURI_DATABASE_URL": "embedded"}, "=embedded", "pgserver"),
    ],
)
def test_a_command_that_needs_the_extra_names_it(
    args: tuple[str, ...], env: dict[str, str], command: str, missing: str
) -> None:
    completed = _cli_without_extra(*args, **env)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 2, output
    assert command in output
    assert f"({missing} not installed)" in output
    assert _INSTALL_HINT in output
    assert "Traceback" not in output


def test_declared_dependencies_are_the_imported_ones() -> None:
    deptry = shutil.which("deptry", path=os.path.dirname(sys.executable))
    if deptry is None:
        pytest.skip("deptry is not installed (the dev extra has it: make install)")
    completed = subprocess.run(
        [deptry, "."], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
