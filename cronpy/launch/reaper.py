"""Every process a child left behind, whatever its process group or session.

A child's own session and group are not enough: coreutils ``timeout`` and job control
(``set -m``) make new groups, ``setsid`` a new session, and a double fork reparents a process
away from the tree. So the runner makes itself a child subreaper (such orphans are then
reparented to it instead of init) and a child's processes are, besides its group:
- the members of its session (the session id stays the child's pid while any member lives,
  and cannot be reused before the child is reaped, which we do last);
- its descendants, found by walking the parent links of ``/proc/PID/stat``;
- orphans reparented to the runner (or to init, when the runner could not become a subreaper)
  whose environment carries the child's ``CRONPY_RUN_ID`` (and, under init, the runner's
  ``CRONPY_STATE_DIR``), and their descendants.
What escapes all of that (a double-forked daemon that clears its environment) is stopped only
by the run's cgroup, where one can be made (``cgroups``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Collection, Iterable
from typing import NamedTuple

from cronpy.launch.usage import Usage

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make this process the reaper of its descendants' orphans; False where that fails."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


class Proc(NamedTuple):
    pid: int
    ppid: int
    pgid: int
    sid: int


def snapshot() -> dict[int, Proc]:
    """Every process now, from one pass over /proc (the kernel here may lack the
    ``task/*/children`` files, and one pass is cheaper than many lookups anyway)."""
    table: dict[int, Proc] = {}
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    data = f.read()
                # after the command name, which may hold spaces and parentheses:
                # state ppid pgrp session ...
                fields = data[data.rindex(b")") + 2 :].split(b" ", 4)
                pid = int(entry.name)
                table[pid] = Proc(pid, int(fields[1]), int(fields[2]), int(fields[3]))
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile
    return table


def environ(pid: int) -> set[bytes]:
    """A process's initial environment entries; empty when gone or unreadable."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return set(f.read().split(b"\0"))
    except OSError:
        return set()


def with_descendants(table: dict[int, Proc], roots: Iterable[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for proc in table.values():
        children.setdefault(proc.ppid, []).append(proc.pid)
    found: set[int] = set()
    stack = list(roots)
    while stack:
        pid = stack.pop()
        if pid in found:
            continue
        found.add(pid)
        stack.extend(children.get(pid, ()))
    return found


def processes_of(
    pid: int,
    run_tag: bytes | None,
    *,
    state_tag: bytes | None = None,
    under_init: bool = False,
    spare: Collection[int] = (),
    table: dict[int, Proc] | None = None,
) -> set[int]:
    """The live processes that belong to the child ``pid`` (itself included, while it is
    unreaped), never the runner nor the pids in ``spare`` (the runner's other children).

    ``run_tag`` is the child's ``CRONPY_RUN_ID=…`` entry; orphans carrying it are looked for
    among the runner's children, and among init's when ``under_init`` (then they must carry
    ``state_tag`` too: other runners' runs have the same ids).
    """
    table = snapshot() if table is None else table
    me = os.getpid()
    roots = {p.pid for p in table.values() if p.pid == pid or p.pgid == pid or p.sid == pid}
    if run_tag is not None:
        adopters = {me, 1} if under_init and state_tag is not None else {me}
        for proc in table.values():
            if proc.ppid not in adopters or proc.pid in spare or proc.pid in roots:
                continue
            env = environ(proc.pid)
            if run_tag in env and (proc.ppid == me or state_tag in env):
                roots.add(proc.pid)
    found = with_descendants(table, roots)
    found.discard(me)
    return found - set(spare) if spare else found


def signal_each(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        # gone, or not ours to signal: either way nothing more to do
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


class Orphans:
    """Reaping what ended children left reparented to us (the runner as PID 1 or subreaper)."""

    def __init__(self, subreaper: bool) -> None:
        self.subreaper = subreaper
        # Groups of ended children that may still hold orphans; reaped as they die.
        self.groups: set[int] = set()
        # Processes signalled by pid (they left the group) that may be our children.
        self.adopted: set[int] = set()

    def reap(self, watched: Collection[int]) -> dict[int, Usage]:
        """Reap dead orphans, never a ``watched`` child (its pidfd reports its end); what
        those of each ended child's group used, by group (a run's cost includes them)."""
        # wait4(-pgid) touches only the ended children's groups, never another child of
        # the runner. A group stays listed while one of our children in it lives, which also
        # keeps its id from being reused before we drop it.
        used: dict[int, Usage] = {}
        for pgid in list(self.groups):
            while True:
                try:
                    pid, _, rusage = os.wait4(-pgid, os.WNOHANG)
                except ChildProcessError:
                    self.groups.discard(pgid)
                    break
                if pid == 0:
                    break
                used[pgid] = Usage.of(rusage).plus(used.get(pgid))
        for pid in list(self.adopted):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    continue  # still dying
            except ChildProcessError:
                pass  # not our child (init's), or already reaped
            self.adopted.discard(pid)
        if self.subreaper:
            self._reap_strays(watched)
        return used

    @staticmethod
    def _reap_strays(watched: Collection[int]) -> None:
        """As a subreaper every orphan below us becomes our child, and those that die on their
        own would stay zombies: reap any exited child that is not watched. Stop at a watched
        one: its own exit event reaps it first, and calls this again."""
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None or info.si_pid in watched:
                return
            with contextlib.suppress(ChildProcessError):
                os.waitpid(info.si_pid, os.WNOHANG)
