"""The latency benchmark's CPU accounting: CPU seconds read from /proc for the syncing
process and the PostgreSQL server, and the CPU floor they set (benchmarks/cpu_report.py)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import cpu_accounting
import cpu_report

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="Linux /proc only")


def _burn(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_a_process_and_its_thread_are_charged_the_cpu_they_burn() -> None:
    process, thread = cpu_accounting.process_seconds(os.getpid()), cpu_accounting.thread_seconds()
    _burn(0.3)
    assert process is not None
    assert cpu_accounting.thread_seconds() - thread >= 0.3
    spent = (cpu_accounting.process_seconds(os.getpid()) or 0) - process
    assert 0.25 <= spent <= 1.0  # clock ticks of 10 ms, other threads of pytest


def test_the_server_is_charged_the_cpu_of_its_backends(pg_server_url: str) -> None:
    url = pg_server_url.replace("+psycopg", "")
    postmaster = cpu_accounting.postmaster_pid(url)
    if postmaster is None:
        pytest.skip("the server's data directory is not readable here")
    before = cpu_accounting.postgres_seconds(postmaster)
    with psycopg.connect(url) as conn:  # a backend that burns CPU, then exits
        conn.execute("SELECT count(*) FROM generate_series(1, 6000000)")
    time.sleep(0.2)  # the postmaster reaps the backend (its CPU moves to the reaped total)
    after = cpu_accounting.postgres_seconds(postmaster)
    assert before is not None and after is not None
    assert after - before >= 0.2


def test_the_floor_is_the_loop_or_the_machines_share_whichever_is_longer() -> None:
    cpu = {"loop": 1.3, "product": 1.6, "postgres": 1.5, "simulator": 0.1}
    assert cpu_report.cpu_floor(cpu, cores=2) == pytest.approx(1.6)
    assert cpu_report.cpu_floor(cpu, cores=8) == pytest.approx(1.3)
    assert cpu_report.cpu_floor({**cpu, "postgres": None}, cores=2) is None


def test_the_goal_is_the_stricter_of_five_times_dlt_and_the_bound() -> None:
    cell = {
        "product": {"seconds": 4.0},
        "verdict": {"x_dlt_fastest": 6.0, "bound": {"seconds": 3.0}},
    }
    # dlt took 24 s: 5x means 4.8 s; 1.15 x the bound 3.45 s, the stricter.
    assert cpu_report.goal_seconds(cell, 100) == pytest.approx(3.45)
    assert cpu_report.goal_seconds(cell, 0) == pytest.approx(4.8)  # no bound at 0 ms


def test_the_table_says_whether_the_floor_leaves_room_for_the_goal() -> None:
    def cell(cpu: dict[str, float]) -> dict:
        detail = {"cpu_s": cpu}
        return {
            "product": {"seconds": 2.0, "detail": detail},
            "verdict": {"x_dlt_fastest": 3.5, "bound": {}},
        }

    matrix = {
        "100000": {
            "0": cell({"loop": 1.3, "product": 1.6, "postgres": 1.5, "simulator": 0.1}),
        },
        "10000": {"0": cell({"loop": 0.1, "product": 0.2, "postgres": 0.1, "simulator": 0.0})},
    }
    lines = cpu_report.cpu_table(matrix, cores=2)
    rows = [line for line in lines if line.startswith("| 1")]
    # 100k: floor 1.60 s against 2.0 x 3.5 / 5 = 1.40 s: no; 10k: 0.15 s against 1.40: yes.
    assert rows == [
        "| 10,000 | 0 ms | 2.00 | 0.10 | 0.20 | 0.10 | 0.00 | 0.15 | 1.40 | yes |",
        "| 100,000 | 0 ms | 2.00 | 1.30 | 1.60 | 1.50 | 0.10 | 1.60 | 1.40 | no |",
    ]
    assert cpu_report.cpu_table(matrix, cores=None) == []
