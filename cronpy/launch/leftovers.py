"""Killing what a dead runner's runs left behind.

First by cgroup: a run's cgroup (``cgroups``) outlives its runner and holds every process of
the run, including those that cleared their environment. Then by environment: a process is
one of ours when it carries ``CRONPY_RUN_ID`` of a lost run and a ``CRONPY_STATE_DIR`` that is
our state directory (compared by real path, so a symlinked ``--state-dir`` still matches; run
ids are per state directory). That survives pid reuse, which a bare pid or group id does not,
and spares other runners' jobs. With each such process go its group, its session and its
descendants, which catches children that cleared their environment but stayed in the tree.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from cronpy.launch import cgroups, reaper


def _state_dir_of(env: set[bytes], cache: dict[bytes, Path | None]) -> Path | None:
    for entry in env:
        if entry.startswith(b"CRONPY_STATE_DIR="):
            value = entry.split(b"=", 1)[1]
            if value not in cache:
                try:
                    cache[value] = Path(os.fsdecode(value)).resolve()
                except (OSError, RuntimeError):
                    cache[value] = None
            return cache[value]
    return None


def kill_leftovers(run_ids: set[int], state_dir: Path) -> int:
    """SIGKILL every process of the lost runs ``run_ids``; how many were found."""
    killed = 0
    parent = cgroups.parent_for(state_dir)
    if parent is not None:
        for run_id in run_ids:
            cgroup = parent / f"run-{run_id}"
            killed += cgroups.kill(cgroup)
    ours = state_dir.resolve()
    wanted = {f"CRONPY_RUN_ID={i}".encode() for i in run_ids}
    table = reaper.snapshot()
    me = os.getpid()
    cache: dict[bytes, Path | None] = {}
    tagged = set()
    for pid in table:
        if pid == me:
            continue
        env = reaper.environ(pid)
        if wanted.isdisjoint(env) or _state_dir_of(env, cache) != ours:
            continue
        tagged.add(pid)
    groups = {table[p].pgid for p in tagged} | {table[p].sid for p in tagged}
    members = {p.pid for p in table.values() if p.pgid in groups or p.sid in groups}
    # never the runner itself, nor its session (a runner started from a terminal)
    found = reaper.with_descendants(table, tagged | members) - {me}
    my_sid = os.getsid(0)
    found = {p for p in found if p in table and table[p].sid != my_sid}
    reaper.signal_each(found, signal.SIGKILL)
    return killed + len(found)
