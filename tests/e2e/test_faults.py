"""A runner SIGKILLed at chosen points of a run's life, in real processes.

The invariant after the next runner has taken over: every occurrence has exactly one start, or
a recorded reason why not. Starts are counted by the job itself (it appends its run id and
scheduled time to a marker file), not by cronpy, so a doubled start cannot hide.

Crash points: after the claim is written (nothing started yet), after the spawn (the child runs,
its pid is not recorded), before the end is recorded (the child finished), and from outside
while a job is printing.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from .conftest import E2E, FAULT_REPORT, WAIT, Runner, dt_to_us, pid_alive, wait_for

pytestmark = pytest.mark.e2e

SECOND_US = 1_000_000


class DoubleCoverage(AssertionError):
    """An occurrence has two records (or none): the one-record-per-occurrence rule is broken."""


# Dying in the tick that claimed a run loses that tick's cursor save, and the next runner then
# counts the claimed (now lost) occurrence again inside its `missed` record.
POINTS = [
    "after-claim",
    "after-spawn",
    "before-finish",
]
TERMINAL = {
    "succeeded",
    "failed",
    "timed_out",
    "killed",
    "spawn_error",
    "skipped",
    "missed",
    "cancelled",
    "lost",
}


def counting_job(marker: Path, body: str = "") -> str:
    # The child records its own start; the literal string keeps the shell's quotes intact.
    return f"""
[cronpy]
shutdown_grace = "1s"

[jobs.count]
schedule = "* * * * * *"
command = 'echo "$CRONPY_RUN_ID $CRONPY_SCHEDULED_AT" >> {marker}{body}'
"""


def marker_starts(marker: Path) -> list[tuple[int, int]]:
    """(run id, scheduled_at in microseconds) for every start the job itself recorded."""
    if not marker.exists():
        return []
    starts = []
    for line in marker.read_text().splitlines():
        run_id, scheduled = line.split(" ")
        starts.append((int(run_id), dt_to_us(datetime.fromisoformat(scheduled))))
    return starts


def check_invariant(
    rows: list[dict[str, Any]], starts: list[tuple[int, int]], label: str
) -> dict[str, int]:
    """Exactly one start or one recorded reason per occurrence; returns what was checked (and
    adds it to the session's fault report)."""
    assert rows, "no records at all"
    statuses = Counter(r["status"] for r in rows)
    assert set(statuses) <= TERMINAL, f"non-terminal records left: {statuses}"

    # no occurrence started twice, and each start is the run the database says it is
    started_at = [s for _, s in starts]
    assert len(started_at) == len(set(started_at)), f"an occurrence started twice: {starts}"
    assert len({i for i, _ in starts}) == len(starts), f"a run id started twice: {starts}"
    by_id = {r["id"]: r for r in rows}
    for run_id, scheduled in starts:
        assert run_id in by_id, f"run {run_id} started but has no record"
        assert by_id[run_id]["scheduled_at"] == scheduled
    started_ids = {i for i, _ in starts}
    for row in rows:
        # (a claimed run that a shutdown stopped before its release ends cancelled, no pid)
        if row["status"] in ("succeeded", "failed", "cancelled") and row["pid"] is not None:
            assert row["id"] in started_ids, f"run {row['id']} recorded a start nobody made"
        if row["status"] == "cancelled" and row["pid"] is None:
            assert row["id"] not in started_ids, f"run {row['id']} ran, but says it never did"
            assert "never ran" in row["reason"], row

    # every second from the first record to the last is covered by exactly one record
    cover: Counter[int] = Counter()
    for row in rows:
        assert row["attempt"] == 1 and row["trigger"] == "schedule", row
        assert row["scheduled_at"] % SECOND_US == 0, row
        if row["status"] == "missed":
            count = row["missed_count"]
            assert count and count > 0, row
            for k in range(count):
                cover[row["scheduled_at"] - k * SECOND_US] += 1
        else:
            cover[row["scheduled_at"]] += 1
    first, last = min(cover), max(cover)
    seconds = range(first, last + SECOND_US, SECOND_US)
    wrong = {
        datetime.fromtimestamp(s / 1e6).time().isoformat(): cover[s]
        for s in seconds
        if cover[s] != 1
    }
    checked = {"records": len(rows), "starts": len(starts), "seconds": len(seconds)}
    FAULT_REPORT.append(f"{label}: {checked}" + (f" NOT EXACTLY ONCE: {wrong}" if wrong else ""))
    if wrong:
        raise DoubleCoverage(f"seconds not covered exactly once (second: records): {wrong}\n{rows}")
    return checked


def killed_run(runner: Runner) -> dict[str, Any]:
    """The one run the killed runner left ``running``."""
    running = [r for r in runner.db_runs("count") if r["status"] == "running"]
    assert len(running) == 1, f"expected one run left running, got {running}"
    return running[0]


def take_over_and_stop(e2e: E2E, lost_id: int, new_records: int = 3) -> Runner:
    """Start a clean runner, let it mark the run lost and record a few more seconds, stop it."""
    runner = e2e.start()
    runner.wait_event("lost", run=lost_id)
    since = dt_to_us(runner.started_at)
    runner.wait_runs("count", new_records, scheduled_after=since)
    assert runner.stop() == 0
    return runner


@pytest.mark.parametrize("point", POINTS)
def test_runner_killed_at_a_fault_point(e2e: E2E, point: str) -> None:
    marker = e2e.root / "starts.txt"
    e2e.write_jobs(counting_job(marker))
    doomed = e2e.start(env={"CRONPY_FAULT": point}, wait_ready=False)
    assert doomed.wait_exit() == -signal.SIGKILL, doomed.diagnose()
    lost = killed_run(doomed)
    if point == "before-finish":
        # the child ended (it wrote its line) but its end was never recorded
        wait_for(lambda: lost["id"] in {i for i, _ in marker_starts(marker)}, 5, "the child")

    # leave at least one whole second with no runner up: it must be recorded missed, once
    gap_end = lost["scheduled_at"] + SECOND_US + SECOND_US // 5
    wait_for(lambda: dt_to_us(datetime.now(UTC)) > gap_end, 5, "a gap without runner")
    take_over_and_stop(e2e, lost["id"])

    rows = doomed.db_runs("count")
    row = next(r for r in rows if r["id"] == lost["id"])
    assert row["status"] == "lost"
    assert row["ended_at"] is not None
    assert "runner gone" in (row["reason"] or "")
    starts = marker_starts(marker)
    lost_starts = [s for s in starts if s[0] == lost["id"]]
    if point == "after-claim":
        assert lost_starts == [], "claimed, then the runner died: nothing may have started"
    elif point == "before-finish":
        assert len(lost_starts) == 1
    else:
        assert len(lost_starts) <= 1
    assert any(r["status"] == "missed" for r in rows), "the gap should have been recorded"
    check_invariant(rows, starts, f"{point} (lost run {lost['id']})")


def test_runner_killed_while_a_job_prints(e2e: E2E) -> None:
    """SIGKILL from outside mid-output; the new runner kills what the lost run left behind."""
    marker = e2e.root / "starts.txt"
    chatty = (
        "; sleep 300 & i=0; while [ $i -lt 300 ]; do"
        ' echo "line $i of run $CRONPY_RUN_ID ........................................";'
        " i=$((i+1)); sleep 0.005; done"
    )
    first = e2e.start(counting_job(marker, chatty))
    (run,) = first.wait_runs("count", 1, status="running")
    log = e2e.state_dir / "logs" / "count" / f"{run['id']}.log"
    first.wait_for(lambda: log.exists() and log.stat().st_size > 2000, WAIT, "output flowing")
    assert first.db_runs("count")[0]["status"] == "running"
    first.proc.kill()
    assert first.wait_exit() == -signal.SIGKILL
    leftovers = e2e.leftovers(f"CRONPY_RUN_ID={run['id']}")
    assert leftovers, "the job's background sleep should have outlived its runner"

    second = e2e.start()
    killed = second.wait_event("killed-leftovers")
    assert killed["processes"] >= 1
    wait_for(
        lambda: not e2e.leftovers(f"CRONPY_RUN_ID={run['id']}"), 5, "the lost run's group to die"
    )
    since = dt_to_us(second.started_at)
    second.wait_runs("count", 3, scheduled_after=since)
    assert second.stop() == 0

    rows = second.db_runs("count")
    assert next(r for r in rows if r["id"] == run["id"])["status"] == "lost"
    starts = marker_starts(marker)
    assert [s for s in starts if s[0] == run["id"]] == [(run["id"], run["scheduled_at"])]
    check_invariant(rows, starts, f"during-output (lost run {run['id']})")


def test_leftover_cleanup_spares_another_state_directorys_runs(e2e: E2E, tmp_path: Path) -> None:
    neighbour = E2E(tmp_path / "neighbour")
    try:
        other = neighbour.start(
            '[cronpy]\nshutdown_grace = "1s"\n'
            '[jobs.long]\nschedule = "0 0 1 1 *"\ncommand = "sleep 60"\n'
        )
        other.cli("trigger", "long", check=0)
        (theirs,) = other.wait_runs("long", 1, status="running")

        e2e.write_jobs(
            '[cronpy]\nshutdown_grace = "1s"\n'
            '[jobs.count]\nschedule = "* * * * * *"\ncommand = "sleep 60"\n'
        )
        doomed = e2e.start(env={"CRONPY_FAULT": "after-spawn"}, wait_ready=False)
        assert doomed.wait_exit() == -signal.SIGKILL
        ours = killed_run(doomed)
        assert ours["id"] == theirs["id"]  # the same number in two different histories
        e2e.start().wait_event("lost", run=ours["id"])
        wait_for(lambda: not e2e.leftovers(f"CRONPY_RUN_ID={ours['id']}"), 5, "our leftovers")

        assert neighbour.leftovers(f"CRONPY_RUN_ID={theirs['id']}"), "the neighbour's job died"
        assert other.db_runs("long")[0]["status"] == "running"
    finally:
        neighbour.close()


def test_no_fault_means_no_kill(e2e: E2E) -> None:
    """The control: the same job without CRONPY_FAULT keeps its runner alive and every start
    is counted once, so the checks above measure the crash and not the job."""
    marker = e2e.root / "starts.txt"
    runner = e2e.start(counting_job(marker))
    runner.wait_runs("count", 2, status="succeeded")
    assert runner.stop() == 0
    assert os.path.exists(marker)
    checked = check_invariant(runner.db_runs("count"), marker_starts(marker), "no fault")
    assert checked["starts"] >= 2


def test_leftovers_are_killed_after_a_restart_through_a_symlinked_state_dir(
    e2e: E2E, tmp_path: Path
) -> None:
    """Issue 17 item 8: the lost run's processes die although the new runner spells the state
    directory differently, whether they still carry the run's environment (but left the run's
    cgroup) or cleared it (but stayed in the cgroup)."""
    from cronpy.launch.cgroups import own_cgroup

    tagged, cleared = e2e.root / "tagged.pid", e2e.root / "cleared.pid"
    home = own_cgroup()
    # A root job can move itself out of its cgroup; then only its environment gives it away.
    leave = f"echo $$ > {home}/cgroup.procs 2>/dev/null;" if home is not None else ""
    command = (
        f"setsid sh -c '{leave} echo $$ > {tagged}; exec sleep 1011' & "
        f"setsid env -i sh -c 'echo $$ > {cleared}; exec sleep 1012' & "
        "sleep 300"
    )
    e2e.write_jobs(
        '[cronpy]\nshutdown_grace = "1s"\n'
        f'[jobs.leaky]\nschedule = "0 0 1 1 *"\ncommand = """{command}"""\n'
    )
    first = e2e.start(args=["--state-dir", str(e2e.state_dir)])
    first.cli("trigger", "leaky", check=0)
    (run,) = first.wait_runs("leaky", 1, status="running")
    first.wait_for(lambda: tagged.exists() and cleared.exists(), WAIT, "the escapees")
    pids = {"tagged": int(tagged.read_text()), "cleared": int(cleared.read_text())}
    first.proc.kill()
    assert first.wait_exit() == -signal.SIGKILL
    assert all(pid_alive(p) for p in pids.values()), "both should outlive their runner"

    link = tmp_path / "state-link"
    link.symlink_to(e2e.state_dir)
    second = e2e.start(args=["--state-dir", str(link)])
    second.wait_event("lost", run=run["id"])
    second.wait_event("killed-leftovers")
    survivors = {}
    try:
        wait_for(lambda: not any(pid_alive(p) for p in pids.values()), 5, "the leftovers to die")
    except AssertionError:
        survivors = {k: p for k, p in pids.items() if pid_alive(p)}
    for pid in survivors.values():
        os.kill(pid, signal.SIGKILL)
    if home is None:
        FAULT_REPORT.append("symlinked state dir: NO CGROUP; the env-cleared escapee not checked")
        assert "tagged" not in survivors, survivors
        return
    FAULT_REPORT.append(f"symlinked state dir, cgroup {home}: survivors {survivors or 'none'}")
    assert not survivors, f"survived the lost run: {survivors}"
