"""Killing what a dead runner's runs left behind, found by their environment."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def kill_leftovers(run_ids: set[int], state_dir: Path) -> int:
    """Kill the process groups of runs a dead runner left behind.

    A process is ours when its environment carries ``CRONPY_RUN_ID`` of a lost run and our
    ``CRONPY_STATE_DIR`` (run ids are per state directory): that survives pid reuse, which a
    bare pid or process group id does not, and spares other runners' jobs."""
    killed = 0
    wanted = {f"CRONPY_RUN_ID={i}".encode() for i in run_ids}
    ours = f"CRONPY_STATE_DIR={state_dir}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if ours not in environ or wanted.isdisjoint(environ):
            continue
        try:
            os.killpg(os.getpgid(int(entry.name)), signal.SIGKILL)
            killed += 1
        except OSError:
            pass
    return killed
