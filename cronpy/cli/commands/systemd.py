"""``cronpy systemd-unit``: a service unit running the job file under systemd."""

from __future__ import annotations

import math
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STOP_MARGIN = 15.0
"""Seconds allowed past shutdown_grace + kill_grace to record the cancelled runs and exit."""


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


def systemd_unit(path: Path, *, state_dir: Path | None) -> UnitResult:
    """The unit for ``path`` (validated first: a unit for a broken file would only fail later).
    ``state_dir`` is written into ExecStart when the user chose one."""
    from cronpy.config import load_job_file

    job_file = load_job_file(path)
    absolute = path.absolute()
    kill_grace = max((job.kill_grace for job in job_file.jobs.values()), default=0.0)
    stop_seconds = math.ceil(job_file.settings.shutdown_grace + kill_grace + STOP_MARGIN)
    argv = cronpy_executable()
    if state_dir is not None:
        argv += ["--state-dir", str(state_dir.absolute())]
    exec_start = " ".join(_quote(w) for w in [*argv, "run", str(absolute)])
    # `cronpy reload` waits for the runner's answer and fails on a refused file, so
    # `systemctl reload` does too (a bare SIGHUP would report success on a typo)
    exec_reload = " ".join(_quote(w) for w in [*argv, "reload"])
    text = f"""\
[Unit]
Description=cronpy jobs from {str(absolute).replace("%", "%%")}
Documentation=man:cronpy(1)
After=network-online.target
Wants=network-online.target

[Service]
# cronpy speaks sd_notify: READY=1 once the jobs are loaded and the lock is held.
Type=notify
NotifyAccess=main
ExecStart={exec_start}
ExecReload={exec_reload}
# SIGTERM to cronpy only; it stops its jobs' process groups itself and records them.
KillMode=mixed
# shutdown_grace ({job_file.settings.shutdown_grace:g}s) + the longest kill_grace ({kill_grace:g}s)
TimeoutStopSec={stop_seconds}
Restart=on-failure
RestartSec=5s

[Install]
WantedBy=multi-user.target
"""
    return UnitResult(text=text, path=absolute)
