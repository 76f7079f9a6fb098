"""A locked state database: the runner keeps going, says it is degraded, and catches up."""

from __future__ import annotations

import json
import signal
import sqlite3
import time

import pytest

from .conftest import E2E

pytestmark = pytest.mark.e2e


def test_a_locked_database_degrades_the_runner_and_nothing_is_lost(e2e: E2E) -> None:
    runner = e2e.start(
        '[cronpy]\nshutdown_grace = "2s"\n[jobs.beat]\nschedule = "* * * * * *"\ncommand = "true"\n'
    )
    runner.wait_runs("beat", 2, status="succeeded")
    # another process holds the write lock for longer than the runner's busy timeout (5 s)
    db = sqlite3.connect(e2e.state_dir / "state.db", timeout=1, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    try:
        degraded = runner.wait_event("degraded", timeout=20)
        assert "locked" in degraded["reason"]
        status = json.loads(runner.cli("status", "--json", check=0).stdout)
        assert "state writes failing" in (status["runners"][0]["degraded"] or "")
    finally:
        db.execute("ROLLBACK")
        db.close()
    runner.wait_event("recovered", timeout=20)
    assert runner.alive
    status = json.loads(runner.cli("status", "--json", check=0).stdout)
    assert status["runners"][0]["degraded"] is None
    # runs resume; nothing was started without its claim, nothing is left "running" at the end
    held = max(r["id"] for r in runner.db_runs("beat"))
    runner.wait_for(
        lambda: any(r["id"] > held and r["status"] == "succeeded" for r in runner.db_runs("beat")),
        15,
        "a run after recovery",
    )
    assert runner.stop() == 0
    rows = runner.db_runs("beat")
    assert all(r["status"] != "running" for r in rows)
    scheduled = [r["scheduled_at"] for r in rows]
    assert len(scheduled) == len(set(scheduled))  # no occurrence recorded twice


def test_a_locked_database_leaves_missed_records_saying_why_not_overlap(e2e: E2E) -> None:
    runner = e2e.start(
        '[cronpy]\nshutdown_grace = "2s"\n[jobs.beat]\nschedule = "* * * * * *"\ncommand = "true"\n'
    )
    runner.wait_runs("beat", 2, status="succeeded")
    db = sqlite3.connect(e2e.state_dir / "state.db", timeout=1, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    try:
        runner.wait_event("degraded", timeout=20)
        time.sleep(4)  # let several 1-second occurrences fall due behind the lock
    finally:
        db.execute("ROLLBACK")
        db.close()
    runner.wait_event("recovered", timeout=20)
    runner.wait_for(
        lambda: any(r["status"] == "missed" for r in runner.db_runs("beat")), 20, "missed record"
    )
    assert runner.stop() == 0
    rows = runner.db_runs("beat")
    assert not [r for r in rows if r["status"] == "skipped"], rows
    missed = [r for r in rows if r["status"] == "missed"]
    assert any("refused writes" in (r["reason"] or "") for r in missed), missed


def test_a_stopped_runner_records_what_fell_due_as_missed_after_sigcont(e2e: E2E) -> None:
    runner = e2e.start(
        '[cronpy]\nshutdown_grace = "2s"\n[jobs.beat]\nschedule = "* * * * * *"\ncommand = "true"\n'
    )
    runner.wait_runs("beat", 2, status="succeeded")
    runner.send(signal.SIGSTOP)
    time.sleep(6)
    runner.send(signal.SIGCONT)
    stalled = runner.wait_event("stalled", timeout=20)
    assert stalled["seconds"] >= 4
    runner.wait_for(
        lambda: any(r["status"] == "missed" for r in runner.db_runs("beat")), 20, "missed record"
    )
    assert runner.stop() == 0
    rows = runner.db_runs("beat")
    assert not [r for r in rows if r["status"] == "skipped"], rows
    missed = [r for r in rows if r["status"] == "missed"]
    assert len(missed) == 1 and "runner stalled for" in missed[0]["reason"]
    assert missed[0]["missed_count"] >= 4
