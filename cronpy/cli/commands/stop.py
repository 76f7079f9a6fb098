"""``cronpy stop``: SIGTERM to the runner holding this state directory's lock, then wait for
it to let go of the lock (it finishes or cancels its running jobs first: shutdown_grace)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cronpy.cli.commands.common import require_runner
from cronpy.errors import FailedError, StateError

POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Stopped:
    pid: int
    host: str | None
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"stopped": True, "pid": self.pid, "host": self.host, "seconds": self.seconds}


def stop(
    state_dir: Path,
    *,
    timeout: float,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
    kill: Callable[[int, int], None] = os.kill,
) -> Stopped:
    """Signal the lock holder and wait until no runner holds the lock. NoRunnerError (exit 3)
    when none is up; FailedError (exit 1) when it is still up after ``timeout`` seconds."""
    from cronpy.runtime.statedir import runner_alive

    holder = require_runner(state_dir, "there is nothing to stop")
    pid = holder["pid"]
    if pid is None:
        raise StateError(
            f"the runner of {state_dir} has not recorded its pid yet; try again in a moment"
        )
    try:
        kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass  # it exited between the check and the signal: waiting below sees the lock free
    except PermissionError:
        raise StateError(
            f"not allowed to signal the runner (pid {pid}): it runs as another user;"
            " run `cronpy stop` as that user or root"
        ) from None
    started = monotonic()
    while runner_alive(state_dir) is not None:
        waited = monotonic() - started
        if waited >= timeout:
            raise FailedError(
                f"the runner (pid {pid}) is still up after {timeout:g}s: it waits up to its"
                " shutdown_grace for running jobs; wait longer with --timeout"
            )
        sleep(POLL_SECONDS)
    return Stopped(pid=pid, host=holder["host"], seconds=round(monotonic() - started, 3))
