"""`make ui` starts without the two warnings Dagster prints on every `dagster dev` start
(its CLI superseded by `dg dev`, a beta parameter its own sensor decorator passes), and
only those: any other warning still shows."""

from __future__ import annotations

import os
import subprocess
import sys

from pipelines.dagster_dev import with_quiet_warnings

SCRIPT = """
import warnings
from dagster._utils.warnings import BetaWarning, SupersessionWarning
warnings.warn("Function `dev_command` is superseded and its usage is discouraged.",
              SupersessionWarning)
warnings.warn("Parameter `owners` of initializer `SensorDefinition.__init__` is currently"
              " in beta", BetaWarning)
warnings.warn("Parameter `other` is currently in beta", BetaWarning)
"""


def test_only_the_two_known_dagster_warnings_are_silenced() -> None:
    env = with_quiet_warnings({**os.environ, "PYTHONWARNINGS": "default::ResourceWarning"})
    assert env["PYTHONWARNINGS"].startswith("default::ResourceWarning,")

    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr
    assert "dev_command" not in done.stderr and "owners" not in done.stderr
    assert "Parameter `other` is currently in beta" in done.stderr
