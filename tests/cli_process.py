"""`tampuuri-sync ARGS` in a subprocess of this interpreter, stdout and stderr apart."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence

from pipelines.settings import PROJECT_ROOT


def run_cli_process(
    args: Sequence[str], env: Mapping[str, str], *, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the CLI to the end in the checkout, with `env` as its whole environment."""
    return subprocess.run(
        [sys.executable, "-c", "from pipelines.cli import main; main()", *args],
        cwd=PROJECT_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
