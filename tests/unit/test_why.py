"""``why``: a pure function of the job, its state, its records and ``now``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cronpy.engine.why import lookup_from, why
from cronpy.model import Job, JobState, RetryDue, Run, Status, Trigger, Window
from cronpy.schedule import parse_schedule
from cronpy.schedule.kinds import AfterOnlySchedule

UTC_ZONE = ZoneInfo("UTC")
FIRST_SEEN = datetime(2026, 3, 1, tzinfo=UTC)
NOW = datetime(2026, 3, 6, 10, 0, tzinfo=UTC)  # a Friday


def job(schedule: str = "0 3 * * *", zone: ZoneInfo = UTC_ZONE, **kw: object) -> Job:
    return Job(
        name="backup",
        schedule=parse_schedule(schedule, tz=zone, job_name="backup"),
        command="true",
        timezone=zone,
        **kw,  # type: ignore[arg-type]
    )


def state(**kw: object) -> JobState:
    args: dict[str, object] = {"name": "backup", "first_seen": FIRST_SEEN, "cursor": NOW}
    args.update(kw)
    return JobState(**args)  # type: ignore[arg-type]


def record(run_id: int, scheduled: datetime, status: Status, **kw: object) -> Run:
    args: dict[str, object] = {
        "id": run_id,
        "job": "backup",
        "status": status,
        "trigger": Trigger.SCHEDULE,
        "scheduled_at": scheduled,
    }
    if status not in (Status.SKIPPED, Status.MISSED):
        args["started_at"] = scheduled + timedelta(seconds=1)
        args["ended_at"] = scheduled + timedelta(seconds=31)
    args.update(kw)
    return Run(**args)  # type: ignore[arg-type]


def at(day: int, hour: int = 3, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def test_without_t_explains_the_last_due_time_and_the_next() -> None:
    runs = [record(7, at(6), Status.FAILED, exit_code=2), record(6, at(5), Status.SUCCEEDED)]
    answer = why(job(), state(), runs, None, NOW)
    assert answer.occurrence == at(6)
    assert [r.id for r in answer.records] == [7]
    assert any("failed with exit code 2" in s for s in answer.explanation)
    assert answer.next_run_at == at(7)
    assert "It runs next at 2026-03-07T03:00:00+00:00 (in 17h00m)." in answer.explanation


def test_retries_of_one_occurrence_are_all_listed_in_order() -> None:
    runs = [
        record(9, at(6), Status.SUCCEEDED, attempt=2),
        record(8, at(6), Status.FAILED, exit_code=1),
    ]
    answer = why(job(), state(), runs, at(6), NOW)
    assert [r.id for r in answer.records] == [8, 9]
    assert "run 9 (attempt 2) succeeded" in answer.explanation[0]


def test_a_time_that_is_not_a_fire_time_names_the_neighbours_and_their_fate() -> None:
    runs = [record(3, at(3), Status.SKIPPED, reason="overlap")]
    answer = why(job(), state(), runs, at(3, 4, 30), NOW)
    assert not answer.fire_time and answer.occurrence is None
    assert (answer.nearest_before, answer.nearest_after) == (at(3), at(4))
    assert "is not a fire time of '0 3 * * *'" in answer.explanation[0]
    assert any("previous run was still running" in s for s in answer.explanation)


def test_an_occurrence_inside_a_missed_range_is_explained_by_that_record() -> None:
    # skip policy: one record for three occurrences, naming the latest (the 5th)
    missed = record(4, at(5), Status.MISSED, missed_count=3, reason="no runner was up")
    inside = why(job(), state(), [missed], at(3), NOW)
    assert inside.covered_by == missed and inside.records == ()
    assert "missed along with 2 other occurrences (no runner was up)" in inside.explanation[0]
    outside = why(job(), state(), [missed], at(2), NOW)
    assert outside.covered_by is None
    assert "no record of it is left" in outside.explanation[0]


def test_an_occurrence_not_handled_yet_or_before_the_job_existed() -> None:
    pending = why(job(), state(cursor=at(4)), [], at(5), NOW)
    assert "no runner has handled it yet" in pending.explanation[0]
    early = why(job(), state(first_seen=at(4)), [], at(3), NOW)
    assert "before the job first appeared" in early.explanation[0]


def test_paused_until_resumed_never_runs_and_a_timed_pause_runs_after_it_ends() -> None:
    forever = why(job(), state(paused=True), [], None, NOW)
    assert forever.next_run_at is None
    assert any("paused until resumed" in s for s in forever.explanation)
    timed = why(job(), state(paused=True, paused_until=at(8, 12)), [], None, NOW)
    assert timed.next_run_at == at(9)
    expired = why(job(), state(paused=True, paused_until=at(6, 9)), [], None, NOW)
    assert expired.next_run_at == at(7)  # a pause that has ended holds nothing back


def test_window_moves_the_next_run_to_the_next_allowed_fire_time() -> None:
    weekdays = Window(days=frozenset(range(5)), hours=((time(2, 0), time(4, 0)),))
    answer = why(job(window=weekdays), state(), [], None, NOW)  # Saturday 7th, Sunday 8th out
    assert answer.next_run_at == at(9)
    assert any("outside its window" in s for s in answer.explanation)


def test_disabled_removed_and_max_runs_reached_do_not_run() -> None:
    assert why(job(enabled=False), state(), [], None, NOW).next_run_at is None
    assert why(job(), state(present=False), [], None, NOW).next_run_at is None
    spent = why(job(max_runs=3), state(run_count=3), [], None, NOW)
    assert spent.next_run_at is None
    assert any("max_runs" in s for s in spent.explanation)


def test_a_pending_retry_comes_before_the_next_occurrence() -> None:
    answer = why(job(), state(retries=(RetryDue(at(6, 10), 2, at(6, 10, 30)),)), [], None, NOW)
    assert answer.next_run_at == at(6, 10, 30)
    assert any("retry (attempt 2)" in s for s in answer.explanation)


def test_the_spring_forward_occurrence_is_found_at_its_real_instant() -> None:
    new_york = ZoneInfo("America/New_York")
    daily = job("30 2 * * *", new_york)
    # 02:30 does not exist on 8 March; the fixed-time job ran at 03:00 EDT = 07:00Z.
    fired = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    runs = [record(5, fired, Status.SUCCEEDED)]
    now = datetime(2026, 3, 8, 12, tzinfo=UTC)
    answer = why(daily, state(cursor=now), runs, fired, now)
    assert answer.fire_time and [r.id for r in answer.records] == [5]
    assert "2026-03-08T03:00:00-04:00" in answer.explanation[0]


def test_every_schedules_are_anchored_at_first_seen() -> None:
    every = job("every 2h")
    anchored = state(first_seen=at(6, 1, 0))
    assert why(every, anchored, [], at(6, 5, 0), NOW).fire_time
    assert not why(every, anchored, [], at(6, 4, 0), NOW).fire_time
    assert why(every, anchored, [], None, NOW).occurrence == at(6, 9, 0)


def test_lookup_from_covers_the_records_the_answer_needs() -> None:
    daily = job()
    assert lookup_from(daily, state(), at(4), NOW) <= at(4)
    # not a fire time: records from the fire time before it are needed
    assert lookup_from(daily, state(), at(4, 9), NOW) <= at(4)
    assert lookup_from(daily, state(), None, NOW) <= at(6)
    assert lookup_from(daily, state(), None, NOW) > at(5)


def test_to_json_carries_the_explanation_and_records() -> None:
    runs = [record(7, at(6), Status.SUCCEEDED)]
    data = why(job(), replace(state(), next_run_at=at(7)), runs, None, NOW).to_json()
    assert data["occurrence"] == "2026-03-06T03:00:00+00:00"
    assert data["records"][0]["id"] == 7 and data["next_run_at"] == "2026-03-07T03:00:00+00:00"
    assert data["explanation"] and all(isinstance(s, str) for s in data["explanation"])


def test_sentences_start_with_a_capital_and_a_disabled_job_says_so() -> None:
    off_time = why(job(), state(), [], at(6, 3, 30), NOW)
    sentences = [s for line in off_time.explanation for s in line.split(". ")]
    assert not any(s[0].islower() for s in sentences), off_time.explanation
    disabled = why(job(enabled=False), state(), [], None, NOW)
    assert disabled.next_run_at is None
    assert any("disabled" in line and "trigger" in line for line in disabled.explanation)
    assert not any("runs next" in line for line in disabled.explanation)


def test_an_after_only_job_says_what_it_waits_for() -> None:
    after_only = Job(
        name="report",
        schedule=AfterOnlySchedule(("backup", "dump")),
        command="true",
        timezone=UTC_ZONE,
        after=("backup", "dump"),
    )
    answer = why(after_only, state(name="report"), [], None, NOW)
    assert answer.next_run_at is None
    assert any("'backup' and 'dump' succeeded" in line for line in answer.explanation)
