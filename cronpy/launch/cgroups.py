"""One cgroup v2 per run, where the runner's own cgroup subtree is delegated to it.

A process cannot leave its cgroup by forking, ``setsid`` or clearing its environment, so
writing ``1`` to the run's ``cgroup.kill`` ends every process of the run at once (Linux 5.14+),
as systemd stops a service. The runner's cgroup comes from /proc/self/cgroup, the v2 mount
from /proc/self/mountinfo (a hybrid host mounts it at /sys/fs/cgroup/unified). Runs go in
``cronpy-<digest of the state directory>/run-<id>`` beside the runner, so a restarted runner
finds a dead one's runs by their ids and two state directories never share names. Where
anything of this is missing or refused, ``detect`` returns None and the launcher relies on
its process walk (``reaper``) alone.

Popen cannot start a child in a cgroup (Python 3.11 has no CLONE_INTO_CGROUP, and
``preexec_fn`` would cost vfork), and moving the child after Popen returns is too late: a
shell forks within the millisecond. So the runner steps into the run's cgroup for the
duration of the Popen call and back out (two small writes); the child is born inside.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from cronpy.digest import sha256


def _v2_mount() -> tuple[Path, str] | None:
    """The cgroup2 mount point and the cgroup path it shows as its root."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        head, sep, tail = line.partition(" - ")
        if sep and tail.split(" ", 1)[0] == "cgroup2":
            fields = head.split(" ")
            return Path(fields[4]), fields[3]
    return None


def own_cgroup() -> Path | None:
    """The directory of this process's cgroup v2, or None without one."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    path = next((line[3:] for line in lines if line.startswith("0::")), None)
    mount = _v2_mount()
    if path is None or mount is None:
        return None
    point, root = mount
    relative = os.path.relpath(path, root)
    if relative.startswith(".."):  # our cgroup is not visible through this mount
        return None
    return (point / relative).resolve()


def parent_for(state_dir: Path | None, base: Path | None = None) -> Path | None:
    """Where the runs of ``state_dir`` get their cgroups (existing or not)."""
    base = own_cgroup() if base is None else base
    if base is None:
        return None
    key = str(state_dir.resolve()) if state_dir is not None else f"pid-{os.getpid()}"
    return base / f"cronpy-{sha256(key.encode()).hexdigest()[:12]}"


def kill(cgroup: Path) -> int:
    """SIGKILL every process of ``cgroup``; how many there were (0 if it is gone)."""
    try:
        count = len((cgroup / "cgroup.procs").read_text().split())
        (cgroup / "cgroup.kill").write_text("1")
    except OSError:
        return 0
    return count


def signal_members(cgroup: Path, sig: int) -> None:
    if sig == signal.SIGKILL:
        kill(cgroup)
        return
    try:
        pids = [int(p) for p in (cgroup / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


class RunCgroups:
    """The runner's cgroups for its children: made at start, killed and removed at the end."""

    def __init__(self, parent: Path, home: Path) -> None:
        self.parent = parent
        self.home = home  # the runner's own cgroup, to step back into
        self._retired: set[Path] = set()

    @classmethod
    def detect(cls, state_dir: Path | None) -> RunCgroups | None:
        home = own_cgroup()
        if home is None:
            return None
        parent = parent_for(state_dir, home)
        assert parent is not None
        try:
            parent.mkdir(exist_ok=True)
            if not (parent / "cgroup.kill").exists():  # before Linux 5.14
                return None
            # Delegated: we could make a cgroup, and may move processes into it.
            if not os.access(parent / "cgroup.procs", os.W_OK):
                return None
        except OSError:
            return None
        cgroups = cls(parent, home)
        cgroups._remove_empty()
        return cgroups

    def step_in(self, name: str) -> Path | None:
        """Move the runner into a new cgroup ``name``, where its next child will be born;
        None (and nothing left over) if refused. ``step_out`` must follow."""
        cgroup = self.parent / name
        try:
            cgroup.mkdir(exist_ok=True)
        except OSError:
            return None
        try:
            (cgroup / "cgroup.procs").write_text("0")  # "0": the writing process
        except OSError:
            with contextlib.suppress(OSError):
                cgroup.rmdir()
            return None
        return cgroup

    def step_out(self) -> None:
        (self.home / "cgroup.procs").write_text("0")

    def retire(self, cgroup: Path) -> None:
        """Remove ``cgroup`` once its killed processes are gone (now, or at a later sweep)."""
        self._retired.add(cgroup)
        self.sweep()

    def sweep(self) -> None:
        for cgroup in list(self._retired):
            try:
                cgroup.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                continue  # still populated: its processes are dying
            self._retired.discard(cgroup)

    def close(self, wait: float = 1.0) -> None:
        """Remove our cgroups, waiting up to ``wait`` seconds for killed runs to empty."""
        deadline = time.monotonic() + wait
        self.sweep()
        while self._retired and time.monotonic() < deadline:
            time.sleep(0.01)
            self.sweep()
        self._remove_empty()  # a lost run's cgroup, killed at start, is empty by now
        with contextlib.suppress(OSError):
            self.parent.rmdir()  # only when empty: a leftover run keeps it for the next runner

    def _remove_empty(self) -> None:
        """Cgroups of runs (or held starts) that ended without their removal (they must be
        empty)."""
        with contextlib.suppress(OSError):
            for entry in self.parent.iterdir():
                if entry.is_dir() and (entry.name.startswith(("run-", "hook-", "arm-"))):
                    with contextlib.suppress(OSError):
                        entry.rmdir()
