"""``cronpy systemd-unit``: a service unit running the job file under systemd.

The unit passes ``systemd-analyze verify`` with no warning, wherever it is generated: it only
names the man page (``man:cronpy(1)``) when ``man`` finds it, since verify runs ``man`` on
every ``man:`` link, and otherwise points at the installed page's file.

Hardening that ordinary jobs survive (they write to /var, /srv, /tmp and their state, reach
the network, use devices, start setuid-free programs): NoNewPrivileges, ProtectSystem=full
(/usr, /boot, /etc read-only), PrivateTmp, ProtectHome=read-only, plus ReadWritePaths= for
each ``--writable`` path. Left out on purpose, because a job is any shell command:
ProtectSystem=strict (jobs write anywhere under /var and /srv), PrivateDevices (backups to
disks), PrivateNetwork and RestrictAddressFamilies (jobs talk to the network),
CapabilityBoundingSet (root jobs, and ``user =`` needs CAP_SETUID), SystemCallFilter and
MemoryDenyWriteExecute (JITs, containers), RestrictNamespaces (container tools),
ProtectKernelTunables/Modules (jobs that administer the host).
"""

from __future__ import annotations

import grp
import math
import pwd
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cronpy.errors import UsageError

STOP_MARGIN = 15.0
"""Seconds allowed past shutdown_grace + kill_grace to record the cancelled runs and exit."""
WATCHDOG_SECONDS = 120
"""systemd restarts a runner whose loop has not pinged for this long; it pings at half."""
DEFAULT_STATE_DIR = "/var/lib/cronpy"


@dataclass(frozen=True)
class UnitResult:
    text: str
    path: Path

    def to_json(self) -> dict[str, Any]:
        return {"file": str(self.path), "unit": self.text}


def cronpy_executable() -> list[str]:
    """How systemd should start this same cronpy: the script beside this interpreter (a venv or
    pipx install), else the one on PATH, else this interpreter with ``-m cronpy``."""
    beside = Path(sys.executable).parent / "cronpy"
    if beside.is_file():
        return [str(beside.absolute())]
    found = shutil.which("cronpy")
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "cronpy"]


def _quote(word: str) -> str:
    """One ExecStart word: systemd expands % specifiers and splits on spaces."""
    word = word.replace("%", "%%")
    if any(c in word for c in " \t\"'\\;$"):
        escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$")
        return f'"{escaped}"'
    return word


def _path_setting(path: str) -> str:
    """A path in a setting that takes space-separated paths (ReadWritePaths=), quoted."""
    return _quote(path) if " " in path or "%" in path else path


def documentation() -> str:
    """``man:cronpy(1)`` when man finds the page (verify runs man on it); else the page the
    package installed, as a file: link; else the man page is not anywhere: leave it out."""
    if shutil.which("man"):
        found = subprocess.run(
            ["man", "-w", "1", "cronpy"], capture_output=True, check=False, timeout=10
        )
        if found.returncode == 0:
            return "Documentation=man:cronpy(1)\n"
    installed = Path(sys.prefix) / "share" / "man" / "man1" / "cronpy.1"
    if installed.is_file():
        return f"Documentation=file://{str(installed.absolute()).replace('%', '%%')}\n"
    return ""


def _user_lines(user: str | None) -> str:
    """User= and Group= from ``--user NAME[:GROUP]``; the group defaults to the user's own."""
    if user is None:
        return ""
    name, _, group = user.partition(":")
    if not name or any(c.isspace() for c in user):
        raise UsageError(f"invalid --user {user!r}: expected NAME or NAME:GROUP")
    if not group:
        try:
            group = grp.getgrgid(pwd.getpwnam(name).pw_gid).gr_name
        except KeyError:
            group = ""  # an unknown user: systemd reports it at start; a group guess would not help
    return f"User={name}\n" + (f"Group={group}\n" if group else "")


def systemd_unit(
    path: Path,
    *,
    state_dir: Path | str | None,
    user: str | None = None,
    writable: list[Path] | None = None,
) -> UnitResult:
    """The unit for ``path`` (validated first: a unit for a broken file would only fail later).

    ``state_dir`` is the one the user chose (None: the service's default, /var/lib/cronpy,
    which systemd creates and hands to ``user``)."""
    from cronpy.config import load_job_file

    job_file = load_job_file(path)
    absolute = path.absolute()
    kill_grace = max((job.kill_grace for job in job_file.jobs.values()), default=0.0)
    grace = job_file.settings.shutdown_grace
    stop_seconds = math.ceil(grace + kill_grace + STOP_MARGIN)
    program = " ".join(_quote(w) for w in cronpy_executable())
    exec_start = f"{program} run {_quote(str(absolute))}"
    paths = [str(Path(p).absolute()) for p in writable or []]
    if state_dir is None:
        state = DEFAULT_STATE_DIR
        directories = (
            "# systemd creates these for User= (mode 0700); the jobs may log into the second\n"
            "StateDirectory=cronpy\nStateDirectoryMode=0700\nLogsDirectory=cronpy\n"
        )
    else:
        state = str(Path(state_dir).absolute())
        directories = ""
        paths.insert(0, f"-{state}")  # '-': cronpy creates it when missing
    # a private /tmp would hide a state directory under it from the `cronpy` commands
    private_tmp = "" if state.startswith(("/tmp/", "/var/tmp/")) else "PrivateTmp=yes\n"
    rw = "".join(f"ReadWritePaths={_path_setting(p)}\n" for p in paths)
    env_value = _quote(f"CRONPY_STATE_DIR={state}")
    text = f"""\
[Unit]
Description=cronpy jobs from {str(absolute).replace("%", "%%")}
{documentation()}After=network-online.target
Wants=network-online.target

[Service]
# cronpy speaks sd_notify: READY=1 once the jobs are loaded and the lock is held, RELOADING=1
# around a reload, STOPPING=1, and WATCHDOG=1 from its loop (at half of WatchdogSec).
Type=notify
NotifyAccess=main
WatchdogSec={WATCHDOG_SECONDS}
{_user_lines(user)}Environment={env_value}
{directories}ExecStart={exec_start}
# waits for the runner's answer: a refused job file fails the reload (the old jobs keep running)
ExecReload={program} reload
# SIGTERM to cronpy only; it stops its jobs' process groups itself and records them.
KillMode=mixed
# a cgroup subtree of its own, for per-run cgroups
Delegate=yes
# shutdown_grace ({grace:g}s) + the longest kill_grace ({kill_grace:g}s)
TimeoutStopSec={stop_seconds}
Restart=on-failure
RestartSec=5s
# hardening that ordinary jobs survive; see `man cronpy` for what is left out and why
NoNewPrivileges=yes
ProtectSystem=full
ProtectHome=read-only
{private_tmp}{rw}
[Install]
WantedBy=multi-user.target
"""
    return UnitResult(text=text, path=absolute)
