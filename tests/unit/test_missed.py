"""The missed policy as data: which records and which catch-up starts, for a given gap."""

from __future__ import annotations

from datetime import timedelta

from cronpy.config import parse_job_file
from cronpy.engine.missed import CatchUp, MissedPlan, MissedRecord, jitter_offset, plan
from cronpy.model import Job
from tests.harness import utc

START, END, NOW = (
    utc("2026-05-01T00:00:30Z"),
    utc("2026-05-01T05:30:00Z"),
    utc("2026-05-01T05:30:00Z"),
)


def _job(extra: str = "", schedule: str = "0 * * * *") -> Job:
    text = f'[jobs.j]\nschedule = "{schedule}"\ncommand = "true"\ntimezone = "UTC"\n{extra}\n'
    return parse_job_file(text, "jobs.toml").jobs["j"]


def _plan(job: Job) -> MissedPlan:
    return plan(job, first_seen=START, start=START, end=END, now=NOW, reason="runner was down")


def test_skip_files_one_record_for_the_whole_gap() -> None:
    result = _plan(_job())
    assert result.records == (MissedRecord(utc("2026-05-01T05:00:00Z"), 5, "runner was down", END),)
    assert result.starts == () and result.cursor == END


def test_catch_up_once_runs_the_latest_and_records_the_others() -> None:
    result = _plan(_job('missed = "catch-up-once"'))
    assert result.records == (
        MissedRecord(utc("2026-05-01T01:00:00Z"), 4, "runner was down; caught up once", None),
    )
    assert result.starts == (CatchUp(utc("2026-05-01T05:00:00Z"), NOW),)
    assert result.cursor == utc("2026-05-01T05:00:00Z")


def test_missed_deadline_keeps_old_occurrences_out_of_the_catch_up() -> None:
    result = _plan(_job('missed = "catch-up-once"\nmissed_deadline = "2h"'))
    assert [(r.count, r.reason) for r in result.records] == [
        (3, "runner was down, past missed_deadline"),  # 01:00-03:00, older than 03:30
        (1, "runner was down; caught up once"),  # 04:00, coalesced into the 05:00 run
    ]
    assert [s.scheduled_at for s in result.starts] == [utc("2026-05-01T05:00:00Z")]


def test_replay_all_is_capped_and_spread_by_jitter() -> None:
    job = _job('missed = "replay-all"\njitter = "30s"', schedule="every 1m")
    result = plan(
        job,
        first_seen=START,
        start=START,
        end=START + timedelta(minutes=180),
        now=NOW,
        reason="machine was asleep",
    )
    assert len(result.starts) == 100
    assert [r.count for r in result.records] == [80]
    offsets = [s.not_before - NOW for s in result.starts]
    assert all(timedelta(0) <= o < timedelta(seconds=30) for o in offsets)
    assert len(set(offsets)) > 50  # spread, not one burst
    assert offsets[0] == jitter_offset(job, result.starts[0].scheduled_at)  # fixed per occurrence


def test_an_empty_gap_plans_nothing() -> None:
    result = plan(
        _job(),
        first_seen=START,
        start=START,
        end=START + timedelta(minutes=10),
        now=NOW,
        reason="runner was down",
    )
    assert result.records == () and result.starts == ()
