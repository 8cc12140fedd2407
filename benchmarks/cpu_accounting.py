"""CPU seconds of the processes a benchmarked sync runs on: where a run's time goes.

On one machine, the sync, its PostgreSQL server and the simulator share the cores, so a
run cannot take less wall time than their CPU seconds together divided by the cores (the
*CPU floor*), nor less than the CPU of its event loop's one thread. Linux only (/proc);
elsewhere every figure is None.

- `thread_seconds()`: the calling thread's CPU (the product's event loop runs on it).
- `process_seconds(pid)`: a process's own CPU, all its threads (user + system).
- `postgres_seconds(url)`: the server at `url`, every backend included: the postmaster's
  own and reaped children's CPU plus each live child's (backends that exit are added to
  the postmaster's children's time when it reaps them).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import psycopg

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def thread_seconds() -> float:
    return time.thread_time()


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # fields from the state on (the name may hold spaces)


def process_seconds(pid: int, *, with_reaped_children: bool = False) -> float | None:
    fields = _stat(pid)
    if fields is None:
        return None
    # After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    ticks = int(fields[11]) + int(fields[12])
    if with_reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICKS


def postmaster_pid(url: str) -> int | None:
    """The pid of the server at `url` (its data directory's postmaster.pid), if readable."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT current_setting('data_directory')").fetchone()
    try:
        return int((Path(row[0]) / "postmaster.pid").read_text().split()[0]) if row else None
    except (OSError, ValueError, IndexError):
        return None


def postgres_seconds(postmaster: int | None) -> float | None:
    """CPU seconds of the server whose postmaster is `postmaster`, all its processes."""
    if postmaster is None:
        return None
    total = process_seconds(postmaster, with_reaped_children=True)
    if total is None:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        if fields is not None and int(fields[1]) == postmaster:
            total += (int(fields[11]) + int(fields[12])) / _TICKS
    return total
