"""Holes an adversarial review found in the runner's decisions (issue 17) and a new user's
first hour (issue 12), each driven through simulated time with the fake clock."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from cronpy.errors import StateError
from cronpy.model import ControlKind, Status, Trigger
from tests.harness import Harness, utc

FLAKY_EVERY_MINUTE = """
[jobs.flaky]
schedule = "every 1m"
command = "exit 1"
timezone = "UTC"
retry = { attempts = 2, backoff = "constant", delay = "150s" }
on_dead = "echo dead"
"""


def test_every_failed_occurrence_keeps_its_own_retry_chain(tmp_path: Path) -> None:
    # The retry delay (150 s) is longer than the interval (60 s): a single retry slot per
    # job was overwritten by each new failure, so no retry ever ran and on_dead never fired.
    h = Harness(tmp_path, FLAKY_EVERY_MINUTE, utc("2026-05-01T00:00:00Z"))
    h.launcher.exit_codes["flaky"] = 1
    h.run_until(utc("2026-05-01T00:20:00Z"))
    runs = h.runs("flaky")
    firsts = {r.scheduled_at for r in runs if r.attempt == 1}
    retried = {r.scheduled_at for r in runs if r.attempt == 2}
    assert len(firsts) == 20
    # every occurrence whose retry fell due before the end was retried, exactly once
    end = h.clock.now().timestamp()
    due = {s for s in firsts if s is not None and s.timestamp() + 1 + 150 <= end}
    assert retried == due and len(due) >= 16
    assert Counter((r.scheduled_at, r.attempt) for r in runs).most_common(1)[0][1] == 1
    assert all(r.trigger is Trigger.RETRY for r in runs if r.attempt == 2)
    dead = [run_id for event, _, run_id in h.hooks.fired if event == "on_dead"]
    assert len(dead) == len(retried)  # one dead letter per dead occurrence
    # the chains still pending are saved, so a restart keeps them
    failed = {r.scheduled_at for r in runs if r.attempt == 1 and r.status is Status.FAILED}
    state = h.store.job_state("flaky")
    assert state is not None and {r.scheduled_at for r in state.retries} == failed - due


def test_pending_retry_chains_survive_a_restart(tmp_path: Path) -> None:
    h = Harness(tmp_path, FLAKY_EVERY_MINUTE, utc("2026-05-01T00:00:00Z"))
    h.launcher.exit_codes["flaky"] = 1
    h.run_until(utc("2026-05-01T00:03:30Z"))
    pending = h.store.job_state("flaky").retries  # type: ignore[union-attr]
    assert len(pending) == 3  # 00:01, 00:02 and 00:03 wait for their retries (due 00:03:31...)
    h.crash_and_restart(utc("2026-05-01T00:03:40Z"))
    h.launcher.exit_codes["flaky"] = 0
    h.run_until(utc("2026-05-01T00:10:00Z"))
    retried = {r.scheduled_at for r in h.runs("flaky") if r.attempt == 2}
    assert {r.scheduled_at for r in pending} <= retried


TWO_PARENTS = """
[jobs.a]
schedule = "every 1m"
command = "true"
timezone = "UTC"
[jobs.b]
schedule = "every 2m"
command = "true"
timezone = "UTC"
[jobs.c]
command = "true"
timezone = "UTC"
after = ["a", "b"]
"""


def test_a_job_after_two_parents_runs_once_both_have_succeeded(tmp_path: Path) -> None:
    h = Harness(tmp_path, TWO_PARENTS, utc("2026-05-01T00:00:00Z"))
    h.run_until(utc("2026-05-01T00:20:30Z"))
    a, b, c = h.runs("a"), h.runs("b"), h.runs("c")
    assert len(a) == 20 and len(b) == 10
    started = [r for r in c if r.status is not Status.SKIPPED]
    waiting = [r for r in c if r.status is Status.SKIPPED]
    assert len(started) == len(b)  # b is the slower parent: c runs once per pair
    assert all(r.trigger is Trigger.AFTER and r.status is Status.SUCCEEDED for r in started)
    # every upstream success that did not start c says why, in c's history
    assert len(started) + len(waiting) == len(a) + len(b)
    assert all("waiting for" in (r.reason or "") for r in waiting)
    assert not any(event == "already-claimed" for event, _ in h.events)


def test_a_disabled_job_does_not_run_after_its_upstream_but_can_be_triggered(
    tmp_path: Path,
) -> None:
    toml = """
[jobs.a]
schedule = "every 1m"
command = "true"
timezone = "UTC"
[jobs.d]
command = "true"
timezone = "UTC"
after = ["a"]
enabled = false
"""
    h = Harness(tmp_path, toml, utc("2026-05-01T00:00:00Z"))
    h.run_until(utc("2026-05-01T00:05:30Z"))
    d = h.runs("d")
    assert len(d) == 5 and all(r.status is Status.SKIPPED and r.reason == "disabled" for r in d)
    control = h.store.push_control(ControlKind.TRIGGER, h.clock.now(), job="d")
    h.core.controls_arrived()
    h.core.tick()
    assert h.runs("d")[-1].trigger is Trigger.MANUAL
    result = h.store.get_control(control).result  # type: ignore[union-attr]
    assert result is not None and "disabled" in result


EVERY_MINUTE = """
[jobs.tick]
schedule = "every 1m"
command = "true"
timezone = "UTC"
"""


def test_occurrences_due_while_the_store_refuses_claims_are_missed_saying_why(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, EVERY_MINUTE, utc("2026-05-01T00:00:00Z"))
    h.run_until(utc("2026-05-01T00:00:30Z"))
    h.store.broken = True  # a full disk, or a database locked by another process
    h.run_until(utc("2026-05-01T00:05:10Z"))
    assert h.launcher.started == []
    h.store.broken = False
    h.run_until(utc("2026-05-01T00:05:40Z"))
    runs = h.runs("tick")
    # the first refused claim starts late; the rest were not "skipped (overlap)": missed
    assert [str(r.status) for r in runs] == ["succeeded", "missed"]
    assert runs[0].scheduled_at == utc("2026-05-01T00:01:00Z") and runs[0].lateness >= 250  # type: ignore[operator]
    assert runs[1].missed_count == 4
    assert "the state database refused writes for" in (runs[1].reason or "")
    h.run_until(utc("2026-05-01T00:06:30Z"))
    assert h.runs("tick")[-1].scheduled_at == utc("2026-05-01T00:06:00Z")  # back on time


def test_a_stalled_runner_records_what_fell_due_as_missed_not_overlap(tmp_path: Path) -> None:
    h = Harness(tmp_path, EVERY_MINUTE, utc("2026-05-01T00:00:00Z"))
    h.run_until(utc("2026-05-01T00:00:30Z"))
    h.clock.advance(300)  # SIGSTOP: time passes, the loop does not run
    h.core.stalled(300 - 30)
    h.core.tick()
    runs = h.runs("tick")
    assert [str(r.status) for r in runs] == ["missed"]
    assert runs[0].missed_count == 5 and "runner stalled for" in (runs[0].reason or "")
    assert not any(r.status is Status.SKIPPED for r in runs)
    h.run_until(utc("2026-05-01T00:06:30Z"))
    assert h.runs("tick")[-1].status is Status.SUCCEEDED


LATE = """
[jobs.report]
schedule = "0 * * * *"
command = "true"
timezone = "UTC"
late_after = "10m"
max_duration = "20m"
on_late = "echo late"
"""


def test_late_after_fires_on_late_once_per_occurrence_until_a_success(tmp_path: Path) -> None:
    h = Harness(tmp_path, LATE, utc("2026-05-01T00:30:00Z"))
    h.launcher.exit_codes["report"] = 1
    h.run_until(utc("2026-05-01T01:30:00Z"))
    late = [e for e in h.hooks.fired if e[0] == "on_late"]
    assert len(late) == 1  # once for the 01:00 occurrence, not at every tick
    state = h.store.job_state("report")
    assert state is not None and state.late is not None and "not succeeded 10m" in state.late
    h.launcher.exit_codes["report"] = 0
    h.run_until(utc("2026-05-01T02:30:00Z"))
    assert [e for e in h.hooks.fired if e[0] == "on_late"] == late  # 02:00 succeeded in time
    assert h.store.job_state("report").late is None  # type: ignore[union-attr]


def test_max_duration_fires_on_late_without_killing_the_run(tmp_path: Path) -> None:
    h = Harness(tmp_path, LATE, utc("2026-05-01T00:30:00Z"))
    h.launcher.durations["report"] = 30 * 60
    h.run_until(utc("2026-05-01T01:35:00Z"))
    late = [e for e in h.hooks.fired if e[0] == "on_late"]
    # 10m after due it has not succeeded (still running); 20m after start it runs too long
    assert len(late) == 2
    assert h.launcher.stopped == []
    assert [str(r.status) for r in h.runs("report")] == ["succeeded"]
    assert h.store.job_state("report").late is None  # type: ignore[union-attr]
    assert any(e == "late" and "still running 20m" in str(f["reason"]) for e, f in h.events)


def test_an_upstream_success_the_store_cannot_count_yet_starts_its_job_late(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, TWO_PARENTS, utc("2026-05-01T00:00:00Z"))
    h.run_until(utc("2026-05-01T00:01:30Z"))  # a succeeded once: c waits for b
    real = h.store._store.upstream_succeeded

    def refused(*args: object) -> list[str]:
        raise StateError("upstream_succeeded: database or disk is full")

    h.store.upstream_succeeded = refused  # b's success at 00:02 cannot be counted
    h.run_until(utc("2026-05-01T00:02:20Z"))
    assert not [r for r in h.runs("c") if r.status is not Status.SKIPPED]
    h.store.upstream_succeeded = real
    h.run_until(utc("2026-05-01T00:02:40Z"))
    started = [r for r in h.runs("c") if r.status is not Status.SKIPPED]
    # counted once the store takes writes again, and c ran then: late, not lost
    assert len(started) == 1 and started[0].trigger is Trigger.AFTER
    assert started[0].started_at is not None
    assert started[0].started_at >= utc("2026-05-01T00:02:20Z")
    assert not any("could not" in (r.reason or "") for r in h.runs("c"))
