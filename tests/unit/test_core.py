"""The runner's decisions under a fake clock: hours of simulated time in milliseconds."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

from cronpy.model import ControlKind, Status, Trigger
from tests.harness import Harness, utc

HOURLY = """
[jobs.hourly]
schedule = "0 * * * *"
command = "true"
timezone = "UTC"
"""


def test_runs_each_occurrence_on_time(tmp_path: Path) -> None:
    h = Harness(tmp_path, HOURLY.replace("0 * * * *", "*/5 * * * *"), utc("2026-05-01T10:00:30Z"))
    h.run_until(utc("2026-05-01T11:00:30Z"))
    runs = h.runs("hourly")
    assert [r.scheduled_at for r in runs] == [
        utc("2026-05-01T10:05:00Z") + timedelta(minutes=5 * i) for i in range(12)
    ]
    assert all(r.status is Status.SUCCEEDED and r.trigger is Trigger.SCHEDULE for r in runs)
    assert all(r.lateness == 0 for r in runs)
    assert all(r.pid is not None and r.log_path for r in runs)  # written when the tick ends
    assert h.store.job_state("hourly").next_run_at == utc("2026-05-01T11:05:00Z")  # type: ignore[union-attr]


def test_sleeps_until_the_next_due_time(tmp_path: Path) -> None:
    h = Harness(tmp_path, HOURLY, utc("2026-05-01T10:20:00Z"))
    assert h.core.next_wakeup() == utc("2026-05-01T11:00:00Z")


def test_fixed_time_job_in_the_live_runner_obeys_the_dst_rule(tmp_path: Path) -> None:
    toml = """
[jobs.spring]
schedule = "30 2 * * *"
command = "true"
timezone = "America/New_York"
[jobs.fall]
schedule = "30 1 * * *"
command = "true"
timezone = "America/New_York"
[jobs.quarter]
schedule = "*/30 1 * * *"
command = "true"
timezone = "America/New_York"
"""
    h = Harness(tmp_path, toml, utc("2026-03-07T12:00:00Z"))
    h.run_until(utc("2026-03-09T12:00:00Z"))
    assert [r.scheduled_at for r in h.runs("spring")] == [
        utc("2026-03-08T03:00:00-04:00"),  # 02:30 does not exist: once, right after the jump
        utc("2026-03-09T02:30:00-04:00"),
    ]
    h.run_until(utc("2026-11-02T12:00:00Z"))
    fall_night = [
        r.scheduled_at for r in h.runs("fall") if r.scheduled_at.date().isoformat() == "2026-11-01"
    ]  # type: ignore[union-attr]
    assert fall_night == [utc("2026-11-01T01:30:00-04:00")]  # once, the first of the two 01:30s
    quarter_night = [
        r.scheduled_at
        for r in h.runs("quarter")
        if utc("2026-11-01T04:00:00Z") <= r.scheduled_at < utc("2026-11-01T08:00:00Z")
    ]  # type: ignore[operator]
    assert quarter_night == [
        utc("2026-11-01T01:00:00-04:00"),
        utc("2026-11-01T01:30:00-04:00"),
        utc("2026-11-01T01:00:00-05:00"),
        utc("2026-11-01T01:30:00-05:00"),
    ]


def test_downtime_with_skip_leaves_one_missed_record(tmp_path: Path) -> None:
    h = Harness(tmp_path, HOURLY, utc("2026-05-01T00:00:30Z"))
    h.run_until(utc("2026-05-01T00:30:00Z"))
    h.crash_and_restart(utc("2026-05-01T05:30:00Z"))
    runs = h.runs("hourly")
    assert [(str(r.status), r.missed_count) for r in runs] == [("missed", 5)]
    assert runs[0].scheduled_at == utc("2026-05-01T05:00:00Z")
    assert runs[0].reason == "runner was down"
    h.run_until(utc("2026-05-01T06:30:00Z"))
    assert h.runs("hourly")[-1].scheduled_at == utc("2026-05-01T06:00:00Z")
    assert h.runs("hourly")[-1].status is Status.SUCCEEDED


def test_downtime_with_catch_up_once_runs_once(tmp_path: Path) -> None:
    toml = HOURLY + 'missed = "catch-up-once"\n'
    h = Harness(tmp_path, toml, utc("2026-05-01T00:00:30Z"))
    h.crash_and_restart(utc("2026-05-01T05:30:00Z"))
    h.run_for(60)
    runs = h.runs("hourly")
    assert [(str(r.status), str(r.trigger), r.missed_count) for r in runs] == [
        ("missed", "schedule", 4),
        ("succeeded", "catch-up", None),
    ]
    assert runs[1].scheduled_at == utc("2026-05-01T05:00:00Z")
    assert runs[1].started_at == utc("2026-05-01T05:30:00Z")


def test_catch_up_respects_missed_deadline(tmp_path: Path) -> None:
    toml = HOURLY + 'missed = "catch-up-once"\nmissed_deadline = "10m"\n'
    h = Harness(tmp_path, toml, utc("2026-05-01T00:00:30Z"))
    h.crash_and_restart(utc("2026-05-01T05:30:00Z"))
    h.run_for(60)
    assert [(str(r.status), r.missed_count) for r in h.runs("hourly")] == [("missed", 5)]
    assert "missed_deadline" in (h.runs("hourly")[0].reason or "")


def test_replay_all_runs_each_missed_occurrence_in_order_one_at_a_time(tmp_path: Path) -> None:
    toml = HOURLY + 'missed = "replay-all"\n'
    h = Harness(tmp_path, toml, utc("2026-05-01T00:00:30Z"))
    h.launcher.durations["hourly"] = 120
    h.crash_and_restart(utc("2026-05-01T03:30:00Z"))
    h.run_for(20 * 60)
    runs = h.runs("hourly")
    assert [r.scheduled_at for r in runs] == [utc(f"2026-05-01T0{i}:00:00Z") for i in (1, 2, 3)]
    assert all(r.trigger is Trigger.CATCH_UP for r in runs)
    for earlier, later in itertools.pairwise(runs):
        assert later.started_at >= earlier.ended_at  # type: ignore[operator]


def test_replay_all_is_capped_at_100(tmp_path: Path) -> None:
    toml = HOURLY.replace("0 * * * *", "every 1m") + 'missed = "replay-all"\n'
    h = Harness(tmp_path, toml, utc("2026-05-01T00:00:00Z"))
    h.launcher.durations["hourly"] = 0.5
    h.crash_and_restart(utc("2026-05-01T03:00:30Z"))
    h.run_for(3600)
    runs = [r for r in h.runs("hourly") if r.scheduled_at <= utc("2026-05-01T03:00:30Z")]  # type: ignore[operator]
    replayed = [r for r in runs if r.trigger is Trigger.CATCH_UP]
    missed = [r for r in runs if r.status is Status.MISSED]
    assert len(replayed) == 100
    assert sum(r.missed_count or 0 for r in missed) == 180 - 100


def test_machine_asleep_is_missed_but_a_wall_clock_step_forward_is_only_late(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, HOURLY, utc("2026-05-01T00:00:30Z"))
    h.run_until(utc("2026-05-01T00:30:00Z"))
    h.clock.suspend(3 * 3600)  # 03:30 now; 01:00, 02:00, 03:00 passed while asleep
    h.core.tick()
    runs = h.runs("hourly")
    assert [(str(r.status), r.missed_count, r.reason) for r in runs] == [
        ("missed", 3, "machine was asleep")
    ]
    h.run_until(utc("2026-05-01T04:30:00Z"))
    h.clock.jump_wall(2 * 3600)  # NTP step over 05:00 and 06:00 while awake
    h.core.tick()
    late = sorted(  # by due time: a tick's claims are written after its skipped records
        (r for r in h.runs("hourly") if r.scheduled_at > utc("2026-05-01T04:30:00Z")),  # type: ignore[operator]
        key=lambda r: r.scheduled_at,  # type: ignore[arg-type, return-value]
    )
    assert [r.scheduled_at for r in late] == [
        utc("2026-05-01T05:00:00Z"),
        utc("2026-05-01T06:00:00Z"),
    ]
    assert [str(r.status) for r in late] == ["running", "skipped"]  # late, and overlap-forbidden
    assert late[0].lateness == 5400
    assert not any(r.status is Status.MISSED for r in late)


def test_wall_clock_step_backwards_does_not_repeat_a_run(tmp_path: Path) -> None:
    h = Harness(tmp_path, HOURLY.replace("0 * * * *", "0 3 * * *"), utc("2026-05-01T02:00:00Z"))
    h.run_until(utc("2026-05-01T03:10:00Z"))
    assert len(h.runs()) == 1
    h.clock.jump_wall(-3600)  # back to 02:10
    h.run_for(2 * 3600)
    assert [r.scheduled_at for r in h.runs()] == [utc("2026-05-01T03:00:00Z")]


def _overlap_harness(tmp_path: Path, policy: str) -> Harness:
    toml = HOURLY.replace("0 * * * *", "every 1m") + f'overlap = "{policy}"\n'
    h = Harness(tmp_path, toml, utc("2026-05-01T00:00:00Z"))
    h.launcher.durations["hourly"] = 150  # each run spans the next two occurrences
    return h


def test_overlap_forbid_records_skipped(tmp_path: Path) -> None:
    h = _overlap_harness(tmp_path, "forbid")
    h.run_for(7 * 60 + 1)
    assert h.statuses() == [
        "succeeded",
        "skipped",
        "skipped",
        "succeeded",
        "skipped",
        "skipped",
        "running",
    ]
    assert {r.reason for r in h.runs() if r.status is Status.SKIPPED} == {"overlap"}


def test_overlap_queue_keeps_one_pending_start(tmp_path: Path) -> None:
    h = _overlap_harness(tmp_path, "queue")
    h.run_for(5 * 60 + 1)
    runs = sorted(h.runs(), key=lambda r: r.scheduled_at)  # type: ignore[arg-type, return-value]
    # 1:00 runs to 3:30; 2:00 is queued; 3:00 finds the queue full; 2:00 starts when 1:00 ends
    assert [(r.scheduled_at.minute, str(r.status)) for r in runs][:3] == [  # type: ignore[union-attr]
        (1, "succeeded"),
        (2, "running"),
        (3, "skipped"),
    ]
    assert runs[1].started_at == utc("2026-05-01T00:03:30Z")
    assert runs[2].reason == "overlap: a start is already queued"


def test_overlap_allow_runs_in_parallel(tmp_path: Path) -> None:
    h = _overlap_harness(tmp_path, "allow")
    h.run_for(4 * 60 + 1)
    assert len(h.launcher.running) == 3
    assert h.statuses() == ["succeeded", "running", "running", "running"]


def test_overlap_replace_stops_the_running_one_then_starts(tmp_path: Path) -> None:
    h = _overlap_harness(tmp_path, "replace")
    h.run_for(2 * 60 + 1)
    runs = h.runs()
    assert [(str(r.status), r.reason) for r in runs][:1] == [("cancelled", "replaced")]
    assert h.launcher.stopped == [(runs[0].id, "replaced")]
    assert runs[1].status is Status.RUNNING and runs[1].scheduled_at == utc("2026-05-01T00:02:00Z")


FAILING = """
[jobs.flaky]
schedule = "0 3 * * *"
command = "false"
timezone = "UTC"
retry = { attempts = 3, backoff = "constant", delay = "30s" }
on_failure = "echo failed"
on_dead = "echo dead"
on_recovery = "echo recovered"
"""


def test_retries_then_dead_letter(tmp_path: Path) -> None:
    h = Harness(tmp_path, FAILING, utc("2026-05-01T02:00:00Z"))
    h.launcher.exit_codes["flaky"] = 1
    h.run_until(utc("2026-05-01T04:00:00Z"))
    runs = h.runs("flaky")
    assert [(r.attempt, str(r.trigger), str(r.status)) for r in runs] == [
        (1, "schedule", "failed"),
        (2, "retry", "failed"),
        (3, "retry", "failed"),
    ]
    assert all(r.scheduled_at == utc("2026-05-01T03:00:00Z") for r in runs)
    assert runs[1].started_at == runs[0].ended_at + timedelta(seconds=30)  # type: ignore[operator]
    events = [e for e, _, _ in h.hooks.fired]
    assert events == ["started", "on_failure"] * 3 + ["on_dead"]
    h.launcher.exit_codes["flaky"] = 0
    h.run_until(utc("2026-05-02T04:00:00Z"))
    assert [e for e, _, _ in h.hooks.fired][-1] == "on_recovery"


def test_a_pending_retry_survives_a_restart(tmp_path: Path) -> None:
    h = Harness(tmp_path, FAILING.replace('"30s"', '"10m"'), utc("2026-05-01T02:00:00Z"))
    h.launcher.exit_codes["flaky"] = 1
    h.run_until(utc("2026-05-01T03:05:00Z"))
    assert h.statuses() == ["failed"]
    h.crash_and_restart(utc("2026-05-01T03:06:00Z"))
    h.launcher.exit_codes["flaky"] = 0
    h.run_until(utc("2026-05-01T03:30:00Z"))
    runs = h.runs()
    assert [(r.attempt, str(r.status)) for r in runs] == [(1, "failed"), (2, "succeeded")]
    assert runs[1].started_at == utc("2026-05-01T03:10:01Z")


def test_a_run_left_by_a_dead_runner_is_lost_and_retried_never_restarted_twice(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, FAILING, utc("2026-05-01T02:00:00Z"))
    h.launcher.durations["flaky"] = 600
    h.run_until(utc("2026-05-01T03:01:00Z"))
    assert h.statuses() == ["running"]
    h.crash_and_restart(utc("2026-05-01T03:02:00Z"))
    h.run_until(utc("2026-05-01T03:20:00Z"))
    runs = h.runs()
    assert [(r.attempt, str(r.status)) for r in runs] == [(1, "lost"), (2, "succeeded")]
    assert runs[0].ended_at == utc("2026-05-01T03:02:00Z")
    assert runs[1].started_at == utc("2026-05-01T03:02:30Z")


def test_a_claimed_occurrence_is_never_started_again(tmp_path: Path) -> None:
    h = Harness(tmp_path, HOURLY, utc("2026-05-01T00:30:00Z"))
    # another runner (or this one before a crash) claimed 01:00 but the cursor was never saved
    h.store.claim_run(
        job="hourly",
        scheduled_at=utc("2026-05-01T01:00:00Z"),
        trigger=Trigger.SCHEDULE,
        attempt=1,
        started_at=utc("2026-05-01T01:00:00Z"),
        host="other",
        runner_id=99,
    )
    h.run_until(utc("2026-05-01T01:30:00Z"))
    assert len(h.launcher.started) == 0
    assert len(h.runs()) == 1


def test_pause_records_skipped_and_expires(tmp_path: Path) -> None:
    h = Harness(tmp_path, HOURLY, utc("2026-05-01T00:30:00Z"))
    h.store.set_paused(["hourly"], True, utc("2026-05-01T02:30:00Z"))
    h.core.wake()
    h.run_until(utc("2026-05-01T03:30:00Z"))
    assert [(str(r.status), r.reason) for r in h.runs()] == [
        ("skipped", "paused"),
        ("skipped", "paused"),
        ("succeeded", None),
    ]
    assert h.store.job_state("hourly").paused is False  # type: ignore[union-attr]


def test_a_paused_catch_up_job_catches_up_once_on_resume(tmp_path: Path) -> None:
    h = Harness(tmp_path, HOURLY + 'missed = "catch-up-once"\n', utc("2026-05-01T00:30:00Z"))
    h.store.set_paused(["hourly"], True, None)
    h.core.wake()
    h.run_until(utc("2026-05-01T04:30:00Z"))
    assert h.runs() == []
    assert h.core.next_wakeup() is None  # nothing to do until resumed: no wake-ups at all
    h.store.set_paused(["hourly"], False, None)
    h.core.wake()
    h.run_for(60)
    assert [(str(r.status), str(r.trigger), r.missed_count, r.reason) for r in h.runs()] == [
        ("missed", "schedule", 3, "job was paused; caught up once"),
        ("succeeded", "catch-up", None, None),
    ]


def test_window_records_skipped(tmp_path: Path) -> None:
    toml = HOURLY + 'window = { days = "mon-fri", hours = ["09:00-12:00"] }\n'
    h = Harness(tmp_path, toml, utc("2026-05-01T07:30:00Z"))  # a Friday
    h.run_until(utc("2026-05-01T13:30:00Z"))
    assert [(r.scheduled_at.hour, str(r.status)) for r in h.runs()] == [  # type: ignore[union-attr]
        (8, "skipped"),
        (9, "succeeded"),
        (10, "succeeded"),
        (11, "succeeded"),
        (12, "skipped"),
        (13, "skipped"),
    ]
    assert {r.reason for r in h.runs() if r.status is Status.SKIPPED} == {"window"}


def test_max_runs_and_at_are_honoured_across_restarts(tmp_path: Path) -> None:
    toml = (
        HOURLY
        + "max_runs = 2\n"
        + """
[jobs.once]
at = ["2026-05-01T01:30:00"]
command = "true"
timezone = "UTC"
"""
    )
    h = Harness(tmp_path, toml, utc("2026-05-01T00:30:00Z"))
    h.run_until(utc("2026-05-01T01:45:00Z"))
    h.crash_and_restart(utc("2026-05-01T01:50:00Z"))
    h.run_until(utc("2026-05-01T06:00:00Z"))
    assert len(h.runs("hourly")) == 2
    assert [r.scheduled_at for r in h.runs("once")] == [utc("2026-05-01T01:30:00Z")]
    assert h.core.next_wakeup() is None


def test_reboot_runs_once_per_boot(tmp_path: Path) -> None:
    toml = '[jobs.boot]\nschedule = "@reboot"\ncommand = "true"\ntimezone = "UTC"\n'
    h = Harness(tmp_path, toml, utc("2026-05-01T00:30:00Z"), boot_id="boot-1")
    h.run_for(10)
    h.crash_and_restart(utc("2026-05-01T01:00:00Z"), boot_id="boot-1")
    h.run_for(10)
    assert [str(r.trigger) for r in h.runs()] == ["reboot"]
    h.crash_and_restart(utc("2026-05-01T02:00:00Z"), boot_id="boot-2")
    h.run_for(10)
    assert [str(r.trigger) for r in h.runs()] == ["reboot", "reboot"]


def test_every_keeps_its_cadence_across_restarts(tmp_path: Path) -> None:
    toml = HOURLY.replace("0 * * * *", "every 10m")
    h = Harness(tmp_path, toml, utc("2026-05-01T00:03:00Z"))
    h.run_until(utc("2026-05-01T00:25:00Z"))
    h.crash_and_restart(utc("2026-05-01T00:27:00Z"))
    h.run_until(utc("2026-05-01T00:45:00Z"))
    assert [r.scheduled_at.minute for r in h.runs() if r.status is Status.SUCCEEDED] == [  # type: ignore[union-attr]
        13,
        23,
        33,
        43,
    ]


def test_manual_trigger_and_cancel_through_controls(tmp_path: Path) -> None:
    h = Harness(tmp_path, HOURLY, utc("2026-05-01T00:30:00Z"))
    h.launcher.durations["hourly"] = 600
    control = h.store.push_control(ControlKind.TRIGGER, h.clock.now(), job="hourly")
    h.core.controls_arrived()
    h.core.tick()
    run = h.runs()[0]
    assert run.trigger is Trigger.MANUAL and run.status is Status.RUNNING
    assert h.store.get_control(control).run_id == run.id  # type: ignore[union-attr]
    h.store.push_control(ControlKind.CANCEL, h.clock.now(), job="hourly")
    h.core.controls_arrived()
    h.core.tick()
    h.core.tick()
    assert h.store.get_run(run.id).status is Status.CANCELLED  # type: ignore[union-attr]


def test_controls_are_read_only_when_a_command_says_so(tmp_path: Path) -> None:
    h = Harness(tmp_path, HOURLY, utc("2026-05-01T00:30:00Z"))
    h.store.push_control(ControlKind.TRIGGER, h.clock.now(), job="hourly")
    h.core.tick()
    assert h.runs() == []  # no wake-up datagram: the runner has not looked
    h.core.controls_arrived()
    h.core.tick()
    assert len(h.runs()) == 1


def test_after_runs_dependants_on_success(tmp_path: Path) -> None:
    toml = (
        HOURLY
        + """
[jobs.report]
schedule = "@yearly"
command = "true"
timezone = "UTC"
after = ["hourly"]
"""
    )
    h = Harness(tmp_path, toml, utc("2026-05-01T00:30:00Z"))
    h.run_until(utc("2026-05-01T01:30:00Z"))
    report = h.runs("report")
    assert [str(r.trigger) for r in report] == ["after"]
    assert report[0].scheduled_at == h.runs("hourly")[0].ended_at


def test_spawn_error_is_a_record_and_retried(tmp_path: Path) -> None:
    h = Harness(tmp_path, FAILING, utc("2026-05-01T02:59:00Z"))
    h.launcher.spawn_errors.add("flaky")
    h.run_until(utc("2026-05-01T03:05:00Z"))
    runs = h.runs()
    assert [(str(r.status), r.attempt) for r in runs] == [
        ("spawn_error", 1),
        ("spawn_error", 2),
        ("spawn_error", 3),
    ]
    assert runs[0].reason == "cwd /nope does not exist"


def test_reload_keeps_state_by_name_and_adds_and_removes_jobs(tmp_path: Path) -> None:
    h = Harness(tmp_path, HOURLY, utc("2026-05-01T00:30:00Z"))
    h.run_until(utc("2026-05-01T01:30:00Z"))
    from cronpy.config import parse_job_file

    new = (
        HOURLY.replace("0 * * * *", "30 * * * *")
        + """
[jobs.added]
schedule = "45 * * * *"
command = "true"
timezone = "UTC"
"""
    )
    h.core.reload(parse_job_file(new, "jobs.toml"))
    h.run_until(utc("2026-05-01T02:50:00Z"))
    # the new schedule applies from the last handled occurrence (01:00): 01:30 is due at once
    assert [r.scheduled_at.minute for r in h.runs("hourly")] == [0, 30, 30]  # type: ignore[union-attr]
    assert [r.scheduled_at.minute for r in h.runs("added")] == [45, 45]  # type: ignore[union-attr]
    h.core.reload(parse_job_file(new.split("[jobs.added]")[0], "jobs.toml"))
    h.run_until(utc("2026-05-01T04:00:00Z"))
    assert len(h.runs("added")) == 2  # none after the removal
    assert h.store.job_state("added").present is False  # type: ignore[union-attr]


def test_every_job_catch_up_keeps_its_cadence(tmp_path: Path) -> None:
    toml = HOURLY.replace("0 * * * *", "every 7m") + 'missed = "catch-up-once"\n'
    h = Harness(tmp_path, toml, utc("2026-05-01T00:00:00Z"))
    h.crash_and_restart(utc("2026-05-01T00:30:00Z"))
    h.run_for(10)
    runs = h.runs()
    # 07, 14, 21, 28 were missed: 28 is caught up, the other three are one missed record
    assert [(str(r.status), r.missed_count) for r in runs] == [("missed", 3), ("succeeded", None)]
    assert runs[1].scheduled_at == utc("2026-05-01T00:28:00Z")
    assert runs[0].scheduled_at == utc("2026-05-01T00:07:00Z")


def test_a_full_disk_delays_starts_until_the_claim_can_be_written(tmp_path: Path) -> None:
    h = Harness(tmp_path, HOURLY, utc("2026-05-01T00:30:00Z"))
    h.store.broken = True
    h.run_until(utc("2026-05-01T01:00:20Z"))
    assert h.launcher.started == []  # no claim, no start: never a run the state cannot record
    assert h.core.degraded is not None and "disk is full" in h.core.degraded
    assert any(event == "degraded" for event, _ in h.events)
    assert h.core.next_wakeup() <= utc("2026-05-01T01:00:25Z")  # type: ignore[operator]
    h.store.broken = False
    h.run_until(utc("2026-05-01T01:30:00Z"))
    runs = h.runs()
    assert [(str(r.status), r.scheduled_at) for r in runs] == [
        ("succeeded", utc("2026-05-01T01:00:00Z"))
    ]
    assert 20 <= runs[0].lateness <= 25  # type: ignore[operator]
    assert h.core.degraded is None
    assert any(event == "recovered" for event, _ in h.events)


def test_records_made_while_the_store_refuses_writes_are_written_later_in_order(
    tmp_path: Path,
) -> None:
    toml = HOURLY.replace("0 * * * *", "every 1m")
    h = Harness(tmp_path, toml, utc("2026-05-01T00:00:00Z"))
    h.launcher.durations["hourly"] = 150
    h.run_until(utc("2026-05-01T00:01:10Z"))  # 00:01 is running until 00:03:30
    h.store.broken = True
    h.run_until(utc("2026-05-01T00:03:40Z"))  # 00:02 and 00:03 skipped, 00:01 ends: all unwritten
    assert h.statuses() == ["running"]
    assert h.store.refused > 0
    h.store.broken = False
    h.run_until(utc("2026-05-01T00:03:50Z"))
    assert h.statuses() == ["succeeded", "skipped", "skipped"]
    assert h.runs()[0].ended_at == utc("2026-05-01T00:03:30Z")


def test_a_runner_dying_right_after_a_claim_does_not_count_it_again_as_missed(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, HOURLY, utc("2026-05-01T00:30:00Z"))
    # what the dying runner managed to write: the claim of 01:00 (its cursor save never came)
    h.store.claim_run(
        job="hourly",
        scheduled_at=utc("2026-05-01T01:00:00Z"),
        trigger=Trigger.SCHEDULE,
        attempt=1,
        started_at=utc("2026-05-01T01:00:00Z"),
        host="test",
        runner_id=1,
        cursor=utc("2026-05-01T01:00:00Z"),
    )
    h.crash_and_restart(utc("2026-05-01T03:30:00Z"))
    runs = h.runs()
    assert [(str(r.status), r.missed_count) for r in runs] == [("lost", None), ("missed", 2)]
    assert runs[1].scheduled_at == utc("2026-05-01T03:00:00Z")  # 02:00 and 03:00, not 01:00


def test_a_catch_up_waiting_for_its_jitter_survives_a_crash(tmp_path: Path) -> None:
    toml = HOURLY + 'missed = "catch-up-once"\njitter = "30m"\n'
    h = Harness(tmp_path, toml, utc("2026-05-01T00:00:30Z"))
    h.crash_and_restart(utc("2026-05-01T05:30:00Z"))  # catch-up of 05:00 planned, jittered
    assert h.launcher.started == []
    h.crash_and_restart(utc("2026-05-01T05:31:00Z"))  # dies before the jitter has passed
    h.run_until(utc("2026-05-01T06:00:00Z"))
    runs = h.runs()
    caught_up = [r for r in runs if r.trigger is Trigger.CATCH_UP]
    assert [r.scheduled_at for r in caught_up] == [utc("2026-05-01T05:00:00Z")]
    assert sum(r.missed_count or 0 for r in runs if r.status is Status.MISSED) == 4


def test_a_start_still_queued_at_shutdown_is_left_to_the_next_runner(tmp_path: Path) -> None:
    h = _overlap_harness(tmp_path, "queue")
    h.run_for(2 * 60 + 1)  # 00:01 runs until 00:03:30, 00:02 is queued
    h.core.begin_shutdown()
    h.launcher.stop_all("shutdown", 1)
    h.core.tick()
    h.crash_and_restart(utc("2026-05-01T00:02:30Z"))
    h.run_for(1)
    by_time = {r.scheduled_at.minute: r for r in h.runs()}  # type: ignore[union-attr]
    assert by_time[1].status is Status.CANCELLED
    assert by_time[2].status is Status.MISSED and by_time[2].missed_count == 1


def test_jobs_due_together_are_claimed_in_one_transaction_before_any_starts(
    tmp_path: Path,
) -> None:
    toml = "".join(
        f'[jobs.j{i}]\nschedule = "0 * * * *"\ncommand = "true"\ntimezone = "UTC"\n'
        for i in range(5)
    )
    h = Harness(tmp_path, toml, utc("2026-05-01T00:30:00Z"))
    h.store.calls.clear()
    h.run_until(utc("2026-05-01T01:00:00Z"))
    assert len(h.launcher.started) == 5
    assert h.store.calls["claim_runs"] == 1 and h.store.calls["claim_run"] == 0
    assert h.store.calls["set_pids"] == 1


def test_in_a_burst_each_run_records_when_its_command_really_started(tmp_path: Path) -> None:
    toml = "".join(
        f'[jobs.j{i}]\nschedule = "0 * * * *"\ncommand = "true"\ntimezone = "UTC"\n'
        for i in range(4)
    )
    h = Harness(tmp_path, toml, utc("2026-05-01T00:30:00Z"))
    h.launcher.spawn_cost = 0.01
    h.run_until(utc("2026-05-01T01:00:00Z"))
    lateness = sorted(round(r.lateness or 0, 3) for r in h.runs())
    assert lateness == [0.0, 0.01, 0.02, 0.03]  # not the claim's instant, shared by all four
