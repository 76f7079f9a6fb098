"""Pre-armed starts: an occurrence's process is started before it is due, held before its
command, and released at the due instant by one small write.

Starting 200 processes one after another takes 100-250 ms on a small machine (fork, exec,
a cgroup move of ~7 ms on some kernels), so a burst's last job started that much late. The
runner knows what is due a second ahead: it starts each process then, under a tiny ``sh``
that waits on its own pipe (its stdin) for the run id the claim gets at the due instant::

    bash -c 'IFS= read -r CRONPY_RUN_ID || exit 125; ...
    <the job's command>'

(a job given as an argv, or with another shell, is held by ``sh -c '...; exec "$0" "$@"'
<argv>``, which execs it in the same process).

Release writes ``<run id>\\n`` and closes the pipe; the shell exports the id, gives the
command /dev/null as stdin (as any run gets) and goes on with the command in the same
process, so its pid, session, cgroup, output pipe and pidfd are those the launcher already watches.
A held process that is not wanted any more (paused, cancelled, reloaded away, shutdown, or
not claimed) has its pipe closed and is killed. If the runner dies, the kernel closes the
pipe's write end, ``read`` sees end of file, and the shell exits 125 without running the
command: nothing runs without a claim.

Each held process is one shell (about 1-3 MiB of RSS, mostly shared pages) and 3 descriptors
in the runner (pidfd, output pipe, gate) until released.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from cronpy.launch.child import Child
from cronpy.launch.env import Spawn
from cronpy.model import Job
from cronpy.model.launch import ArmRequest

GATE_SHELL = "/bin/sh"
# IFS= keeps a job's IFS from splitting the id; `exec </dev/null` gives the command the stdin
# every run gets; "$0" "$@" is the job's own argv, run in this same process.
GATE = (
    'IFS= read -r CRONPY_RUN_ID || exit 125; export CRONPY_RUN_ID; exec </dev/null; exec "$0" "$@"'
)
UNCLAIMED = 125  # how a held process that was never released exits
# A command string for one of these shells is held by the job's shell itself, the gate being
# its first line: at release only the command's own work is left (a held `sh` that then
# execs bash would pay bash's start, ~2 ms of CPU, at the due instant: 0.2 s for 200 jobs
# on 2 cores).
INLINE_SHELLS = frozenset({"sh", "dash", "bash", "ksh", "mksh", "zsh"})
INLINE_GATE = "IFS= read -r CRONPY_RUN_ID || exit 125; export CRONPY_RUN_ID; exec </dev/null\n"


@dataclass(eq=False)
class Held:
    req: ArmRequest
    child: Child
    gate: int | None  # the pipe's write end; None once written or dropped


def gated(spawn: Spawn, job: Job) -> Spawn | None:
    """The held form of ``spawn``, or None when it must start unheld at the due instant:
    where the command cannot be found, so that the start records the precise reason (a
    held shell would only exit 127)."""
    argv0 = spawn.argv[0]
    if "/" in argv0:
        if not os.access(argv0, os.X_OK):
            return None
    elif shutil.which(argv0, path=spawn.env.get("PATH", os.defpath)) is None:
        return None
    env = dict(spawn.env)
    env.pop("CRONPY_RUN_ID", None)  # the gate sets it from what release writes
    if isinstance(job.command, str) and os.path.basename(job.shell) in INLINE_SHELLS:
        shell, flag, command = spawn.argv
        argv = [shell, flag, INLINE_GATE + command]
    else:
        argv = [GATE_SHELL, "-c", GATE, *spawn.argv]
    return Spawn(argv, env, spawn.cwd, spawn.user, spawn.what)


def open_gate(held: Held, run_id: int) -> bool:
    """Let the held process run its command as run ``run_id``; False if it is gone."""
    gate, held.gate = held.gate, None
    if gate is None:
        return False
    try:
        return os.write(gate, f"{run_id}\n".encode()) > 0
    except OSError:  # EPIPE: it died while held
        return False
    finally:
        os.close(gate)


def close_gate(held: Held) -> None:
    """The held process reads end of file and exits without running its command."""
    gate, held.gate = held.gate, None
    if gate is not None:
        os.close(gate)
