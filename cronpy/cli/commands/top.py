"""``cronpy top``: a snapshot of the state for the live view: what runs now (with the tail of
its output), what is next, recent failures, late jobs, and the runners. One snapshot is a
handful of indexed reads; the view takes one a second at most."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cronpy.model.run import iso

if TYPE_CHECKING:
    from cronpy.interfaces import Store
    from cronpy.model import Run
    from cronpy.runtime.statedir import Holder

TAIL_BYTES = 4096  # read from the end of a running run's log: enough for a few lines
TAIL_LINES = 3
NEXT_COUNT = 8
FAILURES = 8
FAILURE_WINDOW = 500  # recent runs searched for failures: one bounded, indexed read


@dataclass(frozen=True)
class RunningNow:
    run: Run
    elapsed: float | None
    tail: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {**self.run.to_json(), "elapsed": self.elapsed, "tail": list(self.tail)}


@dataclass(frozen=True)
class TopSnapshot:
    now: datetime
    runner: Holder | None
    running: tuple[RunningNow, ...]
    upcoming: tuple[tuple[str, datetime], ...]  # (job, next run), soonest first
    failures: tuple[Run, ...]  # newest first
    late: tuple[tuple[str, str], ...]  # (job, why it is late)
    jobs: int

    def to_json(self) -> dict[str, Any]:
        return {
            "now": iso(self.now),
            "runner": self.runner,
            "running": [r.to_json() for r in self.running],
            "next": [{"name": n, "next_run_at": iso(at)} for n, at in self.upcoming],
            "failures": [r.to_json() for r in self.failures],
            "late": [{"name": n, "late": why} for n, why in self.late],
        }


def log_tail(path: str | None, lines: int = TAIL_LINES) -> tuple[str, ...]:
    """The last lines of a log file, read from its end (a run may print gigabytes)."""
    if not path:
        return ()
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            f.seek(max(0, size - TAIL_BYTES))
            data = f.read(TAIL_BYTES)
    except OSError:
        return ()
    text = data.decode("utf-8", "replace").replace("\r", "")
    return tuple(line for line in text.splitlines() if line.strip())[-lines:]


def snapshot(store: Store, *, runner: Holder | None, now: datetime) -> TopSnapshot:
    states = [s for s in store.job_states().values() if s.present]
    running = tuple(
        RunningNow(
            run=r,
            elapsed=None if r.started_at is None else (now - r.started_at).total_seconds(),
            tail=log_tail(r.log_path),
        )
        for r in store.running_runs()
    )
    upcoming = sorted(
        ((s.name, s.next_run_at) for s in states if s.next_run_at is not None),
        key=lambda item: item[1],
    )[:NEXT_COUNT]
    failures = tuple(r for r in store.runs(None, limit=FAILURE_WINDOW) if r.status.is_failure)[
        :FAILURES
    ]
    late = tuple((s.name, s.late) for s in states if s.late)
    return TopSnapshot(now, runner, running, tuple(upcoming), failures, late, len(states))
