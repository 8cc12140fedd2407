"""docker-compose.yml is a valid compose file: `docker-compose config -q` (Debian's
package checks it without a Docker engine) or `docker compose config -q` accepts it, with
.env made from .env.example as a user would."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pipelines.settings import PROJECT_ROOT


def _compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def test_compose_file_is_valid(tmp_path: Path) -> None:
    command = _compose_command()
    if command is None:
        pytest.skip(
            "neither docker-compose nor `docker compose` is installed (.ci/run installs it)"
        )
    # The project directory holds .env (env_file) and is where relative paths resolve; a
    # temporary one keeps a developer's real .env out of the test.
    shutil.copy(PROJECT_ROOT / ".env.example", tmp_path / ".env")
    for name in ("config", "workspace.yaml", "Dockerfile"):
        (tmp_path / name).symlink_to(PROJECT_ROOT / name)
    completed = subprocess.run(
        [
            *command,
            "-f",
            str(PROJECT_ROOT / "docker-compose.yml"),
            "--project-directory",
            str(tmp_path),
            "config",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    services = subprocess.run(
        [
            *command,
            "-f",
            str(PROJECT_ROOT / "docker-compose.yml"),
            "--project-directory",
            str(tmp_path),
            "--profile",
            "simulator",
            "config",
            "--services",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert set(services) == {
        "postgres",
        "warehouse-init",
        "code",
        "webserver",
        "daemon",
        "webhooks",
        "simulator",
    }
