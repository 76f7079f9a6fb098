"""Two runners on one store under a fake clock (DESIGN §9): a job `after` two others whose
successes are seen by different runners, and a retry whose planner dies before it is due.

Each runner is a real Scheduler with its own launcher and its own Fleet (leases, handoffs, the
heartbeat's sweep) on one SQLite file: the store calls are the ones PostgreSQL answers in
production (tests/contract runs them against both; tests/e2e/test_fleet_shared.py against real
runners on PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from cronpy.config import parse_job_file
from cronpy.model import Run, Status, Trigger
from cronpy.runtime.clock import FakeClock
from cronpy.runtime.fleet import HEARTBEAT, Fleet
from cronpy.runtime.scheduler import Scheduler
from cronpy.store.sqlite import SqliteStore
from tests.harness import FakeLauncher, utc

START = utc("2026-05-01T00:00:00Z")


class Runner:
    def __init__(self, tmp_path: Path, clock: FakeClock, name: str, toml: str) -> None:
        self.store = SqliteStore(tmp_path / "state.db")
        self.launcher = FakeLauncher(clock)
        self.events: list[tuple[str, dict[str, object]]] = []
        self.id = self.store.register_runner(name, 1, clock.now())
        self.alive = True
        self.core = Scheduler(
            parse_job_file(toml, f"{name}.toml"),
            self.store,
            self.launcher,
            clock,
            runner_id=self.id,
            host=name,
            logs_dir=tmp_path / f"logs-{name}",
            log=lambda event, **fields: self.events.append((event, fields)),
            fleet=Fleet(self.store, self.id, file_digest=None, log=lambda *a, **k: None),
        )

    def wakeups(self) -> list[datetime]:
        if not self.alive:
            return []
        return [t for t in (self.core.next_wakeup(), self.launcher.next_end()) if t is not None]


class TwoRunners:
    def __init__(self, tmp_path: Path, x_toml: str, y_toml: str) -> None:
        self.clock = FakeClock(START)
        self.x = Runner(tmp_path, self.clock, "x", x_toml)
        self.y = Runner(tmp_path, self.clock, "y", y_toml)
        self.beat_at = START
        for r in (self.x, self.y):
            r.core.start()
        for r in (self.x, self.y):
            r.core.heartbeat()  # each sees the other live: work is spread between them
            r.core.tick()

    def run_until(self, when: datetime) -> None:
        """Fake time passes; each live runner ticks when it asked to and beats its heart."""
        beat = timedelta(seconds=HEARTBEAT)
        while True:
            wakeups = [t for r in (self.x, self.y) for t in r.wakeups()]
            nxt = min([*wakeups, self.beat_at + beat])
            if nxt > when:
                self.clock.set(when)
                return
            self.clock.set(max(nxt, self.clock.now()))
            live = [r for r in (self.x, self.y) if r.alive]
            if self.clock.now() >= self.beat_at + beat:
                self.beat_at = self.clock.now()
                for r in live:
                    r.core.heartbeat()
            for r in live:
                r.core.tick()

    def runs(self, job: str) -> list[Run]:
        return list(reversed(self.x.store.runs(job, limit=100000)))


PARENT = """
[jobs.a]
schedule = "every 1m"
command = "true"
{a}
[jobs.b]
schedule = "every 2m"
command = "true"
{b}
[jobs.c]
command = "true"
after = ["a", "b"]
"""


def test_a_job_after_two_parents_run_by_different_runners_runs_once_per_pair(
    tmp_path: Path,
) -> None:
    # x runs only a, y only b (each file switches the other parent off): no runner sees both
    fleet = TwoRunners(
        tmp_path, PARENT.format(a="", b="enabled = false"), PARENT.format(a="enabled = false", b="")
    )
    fleet.run_until(START + timedelta(minutes=20, seconds=30))
    a, b, c = fleet.runs("a"), fleet.runs("b"), fleet.runs("c")
    assert {r.host for r in a} == {"x"} and {r.host for r in b} == {"y"}
    assert len(a) == 20 and len(b) == 10
    started = [r for r in c if r.status is not Status.SKIPPED]
    waiting = [r for r in c if r.status is Status.SKIPPED]
    assert len(started) == len(b)  # b is the slower parent: c runs once per pair
    assert all(r.trigger is Trigger.AFTER and r.status is Status.SUCCEEDED for r in started)
    assert len(started) + len(waiting) == len(a) + len(b)  # every upstream success: a record
    assert all("waiting for" in (r.reason or "") for r in waiting)
    assert not any(e == "already-claimed" for r in (fleet.x, fleet.y) for e, _ in r.events)


FLAKY = f"""
[jobs.flaky]
at = ["{(START + timedelta(seconds=30)).isoformat()}"]
command = "false"
retry = {{ attempts = 3, backoff = "constant", delay = "60s" }}
"""


@pytest.mark.parametrize("planner_dies", [True, False])
def test_a_planned_retry_starts_once_on_either_runner_even_if_its_planner_dies(
    tmp_path: Path, planner_dies: bool
) -> None:
    fleet = TwoRunners(tmp_path, FLAKY, FLAKY)
    for r in (fleet.x, fleet.y):
        r.launcher.exit_codes["flaky"] = 1
    fleet.run_until(START + timedelta(seconds=40))  # attempt 1 failed; attempt 2 due at ~91 s
    (first,) = fleet.runs("flaky")
    assert first.status is Status.FAILED
    planner = fleet.x if first.runner_id == fleet.x.id else fleet.y
    other = fleet.y if planner is fleet.x else fleet.x
    assert fleet.x.store.pending_retries()["flaky"][0].attempt == 2  # durable at once
    if planner_dies:
        planner.alive = False  # no tick, no heartbeat: its memory is gone with it
    fleet.run_until(START + timedelta(minutes=5))
    runs = fleet.runs("flaky")
    assert [r.attempt for r in runs] == [1, 2, 3]  # each retry started once, none dropped
    assert all(r.status is Status.FAILED for r in runs)
    if planner_dies:
        assert {r.runner_id for r in runs[1:]} == {other.id}
    assert fleet.x.store.pending_retries() == {}  # the last attempt failed: nothing pending
