"""Drive the ``Scheduler`` through simulated time: a fake clock, a fake launcher, real SQLite."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cronpy.config import parse_job_file
from cronpy.errors import StateError
from cronpy.model import Job, LaunchRequest, Outcome, Run, Status
from cronpy.runtime.clock import FakeClock
from cronpy.runtime.scheduler import Scheduler
from cronpy.store.sqlite import SqliteStore


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass
class FakeLauncher:
    """Runs take ``durations[job]`` seconds of fake time and exit with ``exit_codes[job]``."""

    clock: FakeClock
    durations: dict[str, float] = field(default_factory=dict)
    exit_codes: dict[str, int] = field(default_factory=dict)
    spawn_errors: set[str] = field(default_factory=set)
    spawn_cost: float = 0.0  # seconds of fake time each start takes, like a real fork
    started: list[LaunchRequest] = field(default_factory=list)
    stopped: list[tuple[int, str]] = field(default_factory=list)
    _running: dict[int, tuple[LaunchRequest, datetime]] = field(default_factory=dict)
    _done: list[Outcome] = field(default_factory=list)
    _pids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    @property
    def running(self) -> dict[int, int]:
        return {run_id: 1 for run_id in self._running}

    def start(self, req: LaunchRequest) -> int | Outcome:
        if req.job.name in self.spawn_errors:
            return Outcome(
                req.run_id,
                Status.SPAWN_ERROR,
                None,
                None,
                "",
                "cwd /nope does not exist",
                None,
                self.clock.monotonic(),
            )
        self.clock.advance(self.spawn_cost)
        self.started.append(req)
        ends = self.clock.now() + timedelta(seconds=self.durations.get(req.job.name, 1.0))
        self._running[req.run_id] = (req, ends)
        return next(self._pids)

    def stop(self, run_id: int, reason: str, grace: float | None = None) -> None:
        self.stopped.append((run_id, reason))
        if run_id in self._running:
            del self._running[run_id]
            self._done.append(
                Outcome(run_id, Status.CANCELLED, None, 15, "", reason, 1, self.clock.monotonic())
            )

    def stop_all(self, reason: str, grace: float) -> None:
        for run_id in list(self._running):
            self.stop(run_id, reason)

    def drain(self) -> list[Outcome]:
        now = self.clock.now()
        for run_id, (req, ends) in list(self._running.items()):
            if ends <= now:
                del self._running[run_id]
                code = self.exit_codes.get(req.job.name, 0)
                status = Status.SUCCEEDED if code in req.job.success_codes else Status.FAILED
                self._done.append(
                    Outcome(
                        run_id, status, code, None, f"out {run_id}", None, 1, self.clock.monotonic()
                    )
                )
        done, self._done = self._done, []
        return done

    def next_end(self) -> datetime | None:
        return min((ends for _, ends in self._running.values()), default=None)


@dataclass
class RecordingHooks:
    fired: list[tuple[str, str, int]] = field(default_factory=list)

    def started(self, job: Job, run_id: int) -> None:
        self.fired.append(("started", job.name, run_id))

    def fire(self, event: str, job: Job, run: Run) -> None:
        self.fired.append((event, job.name, run.id))


class Harness:
    def __init__(self, tmp_path: Path, toml: str, start: datetime, boot_id: str = "boot-1") -> None:
        self.tmp_path = tmp_path
        self.toml = toml
        self.clock = FakeClock(start)
        self.store = FlakyStore(SqliteStore(tmp_path / "state.db"))
        self.hooks = RecordingHooks()
        self.events: list[tuple[str, dict[str, object]]] = []
        self.launcher = FakeLauncher(self.clock)
        self.core = self._core(boot_id)
        self.core.start()
        self.core.tick()

    def _log(self, event: str, **fields: object) -> None:
        self.events.append((event, fields))

    def _core(self, boot_id: str) -> Scheduler:
        return Scheduler(
            parse_job_file(self.toml, "jobs.toml"),
            self.store,
            self.launcher,
            self.clock,
            runner_id=self.store.register_runner("test", 1, self.clock.now()),
            host="test",
            logs_dir=self.tmp_path / "logs",
            notifier=self.hooks,
            boot_id=boot_id,
            boot_time=utc("2026-01-01T00:00:00Z") + timedelta(days=int(boot_id.split("-")[1])),
            log=self._log,
            sleep=self.clock.advance,
        )

    def run_until(self, when: datetime) -> None:
        """Let fake time pass until ``when``, waking exactly when the core or a run needs it."""
        while True:
            candidates = [t for t in (self.core.next_wakeup(), self.launcher.next_end()) if t]
            nxt = min(candidates, default=None)
            if nxt is None or nxt > when:
                self.clock.set(max(when, self.clock.now()))
                self.core.tick()
                return
            self.clock.set(max(nxt, self.clock.now()))
            self.core.tick()

    def run_for(self, seconds: float) -> None:
        self.run_until(self.clock.now() + timedelta(seconds=seconds))

    def crash_and_restart(
        self, at: datetime, *, boot_id: str = "boot-1", toml: str | None = None
    ) -> None:
        """The runner dies (its runs keep 'running' in the store); time passes; a new one starts."""
        if toml is not None:
            self.toml = toml
        self.launcher = FakeLauncher(self.clock, self.launcher.durations, self.launcher.exit_codes)
        self.clock.set(at)
        self.core = self._core(boot_id)
        self.core.start()
        self.core.tick()

    def runs(self, job: str | None = None) -> list[Run]:
        return list(reversed(self.store.runs(job, limit=100000)))

    def statuses(self, job: str | None = None) -> list[str]:
        return [str(r.status) for r in self.runs(job)]


class FlakyStore:
    """A store whose writes fail while ``broken`` is set, as on a full disk."""

    READS = frozenset(
        {
            "job_states",
            "job_state",
            "get_run",
            "runs",
            "running_runs",
            "get_control",
            "live_runners",
            "pending_controls",
        }
    )

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self.broken = False
        self.refused = 0
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._store, name)
        if name in self.READS or not callable(attr):
            return attr

        def write(*args: object, **kwargs: object) -> object:
            self.calls[name] += 1
            if self.broken:
                self.refused += 1
                raise StateError(f"{name}: database or disk is full")
            return attr(*args, **kwargs)

        return write
