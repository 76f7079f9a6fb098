"""Holes an adversarial review found in the runner's decisions (issue 17) and a new user's
first hour (issue 12), each driven through simulated time with the fake clock."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

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
