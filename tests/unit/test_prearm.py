"""Pre-armed starts under the fake clock: what the engine forecasts, when the scheduler arms,
what it releases at the claim and what it drops (the processes themselves: tests/e2e)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cronpy.model import Job, LaunchRequest, Run, Status
from cronpy.model.launch import ArmRequest
from cronpy.runtime.prearming import LEAD, Prearming
from cronpy.runtime.scheduler import Scheduler
from tests.harness import Harness, utc

START = utc("2026-03-02T00:00:03Z")
JOBS = """
[cronpy]
prearm = "1s"

[jobs.a]
schedule = "*/10 * * * * *"
command = "true"

[jobs.b]
schedule = "*/10 * * * * *"
command = "true"
"""

EVERY_2S = JOBS.replace("*/10 * * * * *", "*/2 * * * * *") + '[defaults]\noverlap = "allow"\n'


@dataclass
class FakePrearmer:
    armed_reqs: dict[tuple[str, datetime], ArmRequest] = field(default_factory=dict)
    arms: list[tuple[str, datetime, datetime]] = field(default_factory=list)  # + when
    dropped: list[tuple[str, datetime]] = field(default_factory=list)
    released: list[LaunchRequest] = field(default_factory=list)
    release_called_at: list[datetime] = field(default_factory=list)
    released_at: list[datetime] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # jobs that cannot be held
    stopped_in_arm: Callable[[], None] | None = None  # a SIGSTOP while the next one arms
    now: object = None
    _pids: itertools.count[int] = field(default_factory=lambda: itertools.count(5000))

    @property
    def armed(self) -> Mapping[tuple[str, datetime], Job]:
        return {key: req.job for key, req in self.armed_reqs.items()}

    def arm(self, req: ArmRequest) -> bool:
        assert callable(self.now)
        if req.job.name in self.refuse:
            return False
        if self.stopped_in_arm is not None:
            stop, self.stopped_in_arm = self.stopped_in_arm, None
            stop()
        self.armed_reqs[req.key] = req
        self.arms.append((*req.key, self.now()))
        return True

    def disarm(self, keep: Mapping[tuple[str, datetime], Job]) -> int:
        gone = [key for key in self.armed_reqs if key not in keep]
        for key in gone:
            del self.armed_reqs[key]
        self.dropped += gone
        return len(gone)

    def release(
        self, reqs: Sequence[LaunchRequest], until_due: Callable[[], bool] = lambda: True
    ) -> dict[int, int] | None:
        assert callable(self.now)
        self.release_called_at.append(self.now())  # after the claim
        if not until_due():
            return None
        self.released_at.append(self.now())
        out = {}
        for req in reqs:
            assert req.scheduled_at is not None
            if self.armed_reqs.pop((req.job.name, req.scheduled_at), None) is not None:
                self.released.append(req)
                out[req.run_id] = next(self._pids)
        return out


class PrearmHarness(Harness):
    prearmer: FakePrearmer

    def __init__(self, tmp_path: Path, toml: str = JOBS) -> None:
        self.prearmer = FakePrearmer()
        super().__init__(tmp_path, toml, START)

    def _core(self, boot_id: str) -> Scheduler:
        core = super()._core(boot_id)
        self.prearmer.now = self.clock.now
        # the harness builds it without one; the runner passes its launcher
        core.prearming = Prearming(
            self.prearmer, core.engine, self.clock, self._log, None, None, on_stall=core.stalled
        )
        return core

    def at(self, text: str) -> None:
        self.clock.set(utc(f"2026-03-02T{text}Z"))
        self.core.tick()


def test_it_arms_each_due_start_a_window_ahead_and_releases_it_at_the_claim(
    tmp_path: Path,
) -> None:
    h = PrearmHarness(tmp_path)
    due = utc("2026-03-02T00:00:10Z")
    assert h.core.next_arm() == due - timedelta(seconds=1)
    h.at("00:00:08.5")
    assert not h.prearmer.arms  # not yet within the window
    h.at("00:00:09")
    assert sorted(h.prearmer.armed) == [("a", due), ("b", due)]
    assert {req.extra_env["CRONPY_TRIGGER"] for req in h.prearmer.armed_reqs.values()} == {
        "schedule"
    }
    assert h.core.next_arm() is None  # armed: the loop sleeps until the due instant
    h.at("00:00:10.002")
    assert sorted(r.job.name for r in h.prearmer.released) == ["a", "b"]
    assert not h.launcher.started  # nothing was started unheld
    runs = h.runs()
    assert [r.status for r in runs] == ["running", "running"]
    # started_at is the release instant, after the claim: never the arm time
    assert all(r.started_at == utc("2026-03-02T00:00:10.002Z") for r in runs)
    assert {r.pid for r in runs} == {5000, 5001}
    assert not h.prearmer.armed


def test_a_held_instant_is_claimed_ahead_of_it_and_released_at_it(tmp_path: Path) -> None:
    h = PrearmHarness(tmp_path)
    due = utc("2026-03-02T00:00:10Z")
    h.at("00:00:09")
    # the loop wakes LEAD early to decide and claim, off the burst's path
    assert h.core.next_wakeup() == due - LEAD
    h.clock.set(due - LEAD)
    h.core.tick()
    assert h.prearmer.release_called_at == [due - LEAD]  # the claim was taken by then
    assert h.prearmer.released_at == [due]  # and the gates opened at the instant
    assert h.clock.now() == due  # the tick waited for it: the engine never sees time go back
    runs = h.runs()
    assert [(r.status, r.started_at) for r in runs] == [("running", due)] * 2
    assert not h.launcher.started


def test_a_start_that_could_not_be_held_waits_for_its_instant_too(tmp_path: Path) -> None:
    h = PrearmHarness(tmp_path)
    h.prearmer.refuse.add("b")
    due = utc("2026-03-02T00:00:10Z")
    h.at("00:00:09")
    assert list(h.prearmer.armed) == [("a", due)]
    h.clock.set(due - timedelta(milliseconds=20))  # within LEAD: decided now
    h.core.tick()
    assert [r.job.name for r in h.launcher.started] == ["b"]
    assert [r.job.name for r in h.prearmer.released] == ["a"]
    assert {r.job: r.started_at for r in h.runs()} == {"a": due, "b": due}


def test_a_held_start_whose_claim_is_refused_waits_for_the_store_without_spinning(
    tmp_path: Path,
) -> None:
    h = PrearmHarness(tmp_path)
    due = utc("2026-03-02T00:00:10Z")
    h.at("00:00:09")
    h.store.broken = True  # a full disk at the decision
    h.clock.set(due - LEAD)
    h.core.tick()
    assert not h.prearmer.released
    # still held for its past instant; the next wake-up is the store's retry, not a busy loop
    wake = h.core.next_wakeup()
    assert wake is not None and wake > h.clock.now()
    h.store.broken = False
    h.run_until(utc("2026-03-02T00:00:19Z"))  # the store is retried every 5 s
    late = [r for r in h.runs() if r.scheduled_at == due]
    assert sorted(r.job for r in late) == ["a", "b"]  # each once, late, claimed as usual
    assert all(r.started_at is not None and r.started_at > due for r in late)


def test_an_instant_where_a_run_may_end_first_is_decided_at_the_instant(tmp_path: Path) -> None:
    h = PrearmHarness(tmp_path)
    h.launcher.durations["a"] = 9.97  # a's 00:00:10 run ends at 00:00:19.97, under forbid
    h.run_until(utc("2026-03-02T00:00:19.5Z"))
    assert list(h.prearmer.armed) == [("b", utc("2026-03-02T00:00:20Z"))]
    wakes: list[datetime] = []
    while h.clock.now() < utc("2026-03-02T00:00:20.5Z") and len(wakes) < 10:
        nxt = min(t for t in (h.core.next_wakeup(), h.launcher.next_end()) if t)
        wakes.append(nxt)
        h.clock.set(max(nxt, h.clock.now()))
        h.core.tick()
    # not decided at 19.95 (a would have been skipped as still running); once a ended, b's
    # instant was decided ahead again, at once, and not in a loop
    assert wakes[0] == utc("2026-03-02T00:00:19.97Z")  # a's end, not 19.95
    assert len(wakes) <= 5, wakes
    twenty = [r for r in h.runs() if r.scheduled_at == utc("2026-03-02T00:00:20Z")]
    assert sorted(r.job for r in twenty) == ["a", "b"]
    assert all(r.status is not Status.SKIPPED and r.started_at is not None for r in twenty)


def test_a_stop_signal_while_waiting_for_the_instant_starts_nothing(tmp_path: Path) -> None:
    h = PrearmHarness(tmp_path)
    due = utc("2026-03-02T00:00:10Z")
    h.at("00:00:09")
    stop = False

    def sigterm_meanwhile(seconds: float) -> None:
        nonlocal stop
        h.clock.advance(seconds / 2)
        stop = True  # SIGTERM lands while the claimed batch waits for its instant
        h.clock.advance(seconds / 2)

    h.core.sleep = sigterm_meanwhile
    h.core.stop_requested = lambda: stop
    h.clock.set(due - LEAD)
    h.core.tick()
    assert not h.prearmer.released and not h.launcher.started
    runs = h.runs()
    assert [str(r.status) for r in runs] == ["cancelled", "cancelled"]
    assert all("never ran" in (r.reason or "") and r.pid is None for r in runs)
    assert sorted(name for name, _ in h.prearmer.dropped) == ["a", "b"]  # killed unrun


def missed_for_the_stall(h: PrearmHarness) -> Run:
    """a's one `missed` record, which must say the runner stalled."""
    missed = [r for r in h.runs("a") if r.status is Status.MISSED]
    assert len(missed) == 1 and "runner stalled for" in (missed[0].reason or ""), missed
    return missed[0]


def test_a_sigstop_while_waiting_for_a_held_instant_is_a_stall(tmp_path: Path) -> None:
    h = PrearmHarness(tmp_path, EVERY_2S)
    due = utc("2026-03-02T00:00:04Z")
    assert sorted(h.prearmer.armed) == [("a", due), ("b", due)]
    h.core.sleep = lambda seconds: h.clock.advance(seconds + 6)  # stopped 6 s in the wait
    h.clock.set(due - LEAD)
    h.core.tick()
    assert [f for e, f in h.events if e == "stalled"], "a stop in the wait must count as a stall"
    h.core.sleep = h.clock.advance
    h.run_until(utc("2026-03-02T00:00:13Z"))
    missed = missed_for_the_stall(h)
    assert missed.missed_count is not None and missed.missed_count >= 2


def test_a_sigstop_while_arming_is_a_stall(tmp_path: Path) -> None:
    h = PrearmHarness(tmp_path, EVERY_2S)
    h.run_until(utc("2026-03-02T00:00:04Z"))  # 04 released; 06 armed next, at 05
    h.prearmer.stopped_in_arm = lambda: h.clock.advance(7)
    h.run_until(utc("2026-03-02T00:00:05.5Z"))
    assert [f for e, f in h.events if e == "stalled"], "a stop while arming must count as a stall"
    h.run_until(utc("2026-03-02T00:00:20Z"))
    missed_for_the_stall(h)


def test_a_pause_between_arm_and_due_drops_the_held_start_and_records_the_skip(
    tmp_path: Path,
) -> None:
    h = PrearmHarness(tmp_path)
    due = utc("2026-03-02T00:00:10Z")
    h.at("00:00:09.2")
    h.store.set_paused(["a"], True, None)
    h.clock.set(utc("2026-03-02T00:00:09.5Z"))
    h.core.wake()
    assert h.prearmer.dropped == [("a", due)]  # before the due instant, not at it
    h.at("00:00:10")
    assert [r.job.name for r in h.prearmer.released] == ["b"]
    skipped = [r for r in h.runs("a") if r.scheduled_at == due]
    assert [(r.status, r.reason) for r in skipped] == [("skipped", "paused")]
    assert not h.launcher.started


def test_shutdown_drops_what_is_held(tmp_path: Path) -> None:
    h = PrearmHarness(tmp_path)
    h.at("00:00:09.5")
    h.core.begin_shutdown()
    h.at("00:00:09.6")
    assert sorted(name for name, _ in h.prearmer.dropped) == ["a", "b"]
    h.at("00:00:10")
    assert not h.prearmer.released and not h.launcher.started


def test_a_job_still_running_under_forbid_is_not_armed_until_it_ends(tmp_path: Path) -> None:
    h = PrearmHarness(tmp_path)
    h.launcher.durations["a"] = 9.5  # the 00:00:10 run ends at 00:00:19.5
    h.at("00:00:10")
    h.at("00:00:19.2")
    assert [k for k in h.prearmer.armed] == [("b", utc("2026-03-02T00:00:20Z"))]
    h.at("00:00:19.6")  # its end is handled: now it is armed too
    assert ("a", utc("2026-03-02T00:00:20Z")) in h.prearmer.armed


def test_prearm_zero_starts_at_the_due_instant_as_before(tmp_path: Path) -> None:
    h = PrearmHarness(tmp_path, JOBS.replace('prearm = "1s"', 'prearm = "0s"'))
    assert h.core.next_arm() is None
    h.at("00:00:09.5")
    h.at("00:00:10")
    assert not h.prearmer.arms
    assert sorted(r.job.name for r in h.launcher.started) == ["a", "b"]


def test_the_forecast_walks_only_the_planned_jobs_due_within_the_window(tmp_path: Path) -> None:
    jobs = "\n".join(
        f'[jobs.j{i}]\nschedule = "{i % 60} {i // 60 % 24} * * *"\ncommand = "true"'
        for i in range(300)
    )
    h = PrearmHarness(tmp_path, '[cronpy]\nprearm = "1s"\n' + jobs)
    engine = h.core.engine
    first = utc("2026-03-02T00:01:00Z")  # j1: minute 1 of hour 0
    assert [(j.name, at) for j, at in engine.due_within(first)] == [("j1", first)]
    assert engine.due_within(first - timedelta(seconds=1)) == []


def test_prearm_is_a_duration_of_at_most_a_minute() -> None:
    from cronpy.config import parse_job_file
    from cronpy.errors import ConfigError

    job = '[jobs.a]\nschedule = "* * * * *"\ncommand = "true"\n'
    assert parse_job_file(job, "f.toml").settings.prearm == 1.0  # on by default
    assert parse_job_file('[cronpy]\nprearm = "0s"\n' + job, "f.toml").settings.prearm == 0
    try:
        parse_job_file('[cronpy]\nprearm = "2m"\n' + job, "f.toml")
    except ConfigError as exc:
        assert "at most 1m" in str(exc)
    else:
        raise AssertionError("a 2m prearm was accepted")
