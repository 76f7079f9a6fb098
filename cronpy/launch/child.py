"""A child process the launcher watches, and the two OS calls made on it by pid."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from cronpy.launch.capture import OutputTail
from cronpy.model import HookRequest, LaunchRequest, Status
from cronpy.model.launch import ArmRequest


@dataclass(eq=False)
class Child:
    """A process being watched: a job's run (``req`` a LaunchRequest) or a hook."""

    req: LaunchRequest | HookRequest | ArmRequest  # ArmRequest: held (launch/prearm.py)
    popen: subprocess.Popen[bytes]
    pidfd: int
    pipe: int | None
    capture: OutputTail
    started: float
    timeout: float | None
    kill_grace: float
    due: float | None  # when check_deadlines must act next: the timeout, then SIGKILL
    ending: Status | None = None  # why we began stopping it: TIMED_OUT, CANCELLED, KILLED
    reason: str | None = None
    tag: bytes | None = None  # its CRONPY_RUN_ID entry, which its orphans inherit
    cgroup: Path | None = None
    read_size: int = 64 * 1024  # raised with the pipe's capacity for a chatty child

    def status(self, returncode: int, success_codes: Collection[int]) -> Status:
        if self.ending is not None:
            return self.ending
        if returncode < 0:
            return Status.KILLED
        return Status.SUCCEEDED if returncode in success_codes else Status.FAILED


def killpg(pgid: int, sig: int) -> None:
    # Nothing left to signal, or nothing we may signal: either way nothing more to do.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def has_exited(pid: int) -> bool:
    """True once ``pid`` (our unreaped child) has exited, without reaping it."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True
