"""Pre-armed starts with real processes: held before the due instant, released together at it,
and never running a command that was not claimed (launch/prearm.py)."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from .conftest import E2E, Runner, dt_to_us, pid_alive, wait_for

pytestmark = pytest.mark.e2e


def held(e2e: E2E, job: str) -> list[int]:
    """The live processes holding an occurrence of ``job`` (a held one has no run id yet)."""
    return [p for p in e2e.leftovers(f"CRONPY_JOB={job}") if not _has_run_id(p)]


def _has_run_id(pid: int) -> bool:
    try:
        return b"CRONPY_RUN_ID=" in Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False


def ran_since(marker: Path, since: datetime) -> list[float]:
    """The times (``date +%s.%N`` lines) the command ran at or after ``since``: after the arm
    of an occurrence, only that occurrence could have run it."""
    lines = marker.read_text().split() if marker.exists() else []
    return [t for t in map(float, lines) if t >= since.timestamp()]


def armed_ahead(runner: Runner, seconds: float) -> tuple[datetime, datetime]:
    """The due instant of a prearmed batch at least ``seconds`` away when it was armed, and
    when it was armed."""

    def found() -> tuple[datetime, datetime] | None:
        for event in runner.events("prearmed"):
            due, armed = datetime.fromisoformat(event["due"]), datetime.fromisoformat(event["ts"])
            if (due - armed).total_seconds() >= seconds:
                return due, armed
        return None

    return runner.wait_for(found, what=f"a batch armed {seconds}s ahead")


def test_a_burst_is_held_then_released_together_each_with_its_claim(e2e: E2E) -> None:
    out = e2e.root / "out"
    out.mkdir()
    jobs = "\n".join(
        f'[jobs.b{i:02d}]\nschedule = "*/3 * * * * *"\n'
        f"command = 'echo \"$EPOCHREALTIME $CRONPY_RUN_ID\" >> {out}/$CRONPY_JOB'\n"
        for i in range(40)
    )
    runner = e2e.start('[cronpy]\nprearm = "2s"\n[defaults]\nshell = "/bin/bash"\n' + jobs)
    due, _ = armed_ahead(runner, 1.0)
    wait_for(lambda: len(held(e2e, "b00")) == 1, what="b00 held before it is due")
    assert datetime.now(due.tzinfo) < due, "the held process must exist before the due instant"
    runs = runner.wait_for(
        lambda: (
            found
            if len(
                found := [
                    r
                    for r in runner.db_runs()
                    if r["scheduled_at"] == dt_to_us(due) and r["status"] == "succeeded"
                ]
            )
            == 40
            else None
        ),
        what="the 40 runs of the burst",
    )
    for run in runs:
        line = (out / run["job"]).read_text().splitlines()
        ran = {int(rid): float(at) for at, rid in (x.split() for x in line)}
        # the command saw its own claim's run id, and ran after the due instant, soon after
        late = ran[run["id"]] - due.timestamp()
        assert 0 <= late < 2.0, (run["job"], late)
        # started_at is the release, not the arm time (which was at least 1 s earlier)
        assert run["started_at"] >= dt_to_us(due), run


def test_a_pause_between_arm_and_release_kills_the_held_process(e2e: E2E) -> None:
    marker = e2e.root / "ran"
    runner = e2e.start(
        f'[cronpy]\nprearm = "6s"\n[jobs.p]\nschedule = "*/10 * * * * *"\n'
        f'command = "date +%s.%N >> {marker}"\n'
    )
    due, armed = armed_ahead(runner, 4.0)
    pid = wait_for(lambda: held(e2e, "p"), what="p held")[0]
    runner.cli("pause", "p", check=0)
    wait_for(lambda: not pid_alive(pid), what="the held process to be killed at the pause")
    assert datetime.now(due.tzinfo) < due
    skipped = runner.wait_runs("p", 1, status="skipped", scheduled_at=dt_to_us(due))
    assert skipped[0]["reason"] == "paused"
    assert not ran_since(marker, armed)
    assert runner.events("prearm-dropped")


def test_a_reload_that_removes_the_job_kills_the_held_process(e2e: E2E) -> None:
    marker = e2e.root / "ran"
    text = '[cronpy]\nprearm = "6s"\n[jobs.keep]\nschedule = "0 0 1 1 *"\ncommand = "true"\n'
    runner = e2e.start(
        text + f'[jobs.gone]\nschedule = "*/10 * * * * *"\ncommand = "date +%s.%N >> {marker}"\n'
    )
    due, armed = armed_ahead(runner, 4.0)
    pid = wait_for(lambda: held(e2e, "gone"), what="gone held")[0]
    e2e.write_jobs(text)
    runner.cli("reload", check=0)
    wait_for(lambda: not pid_alive(pid), what="the held process to be killed at the reload")
    assert datetime.now(due.tzinfo) < due
    wait_for(lambda: datetime.now(due.tzinfo) > due, timeout=10, what="the due instant to pass")
    runner.cli("status", check=0)  # the runner answers: it went past the instant
    assert not ran_since(marker, armed)
    assert not runner.db_runs("gone")


def test_shutdown_while_armed_runs_no_command(e2e: E2E) -> None:
    marker = e2e.root / "ran"
    runner = e2e.start(
        f'[cronpy]\nprearm = "6s"\n[jobs.s]\nschedule = "*/10 * * * * *"\n'
        f'command = "date +%s.%N >> {marker}"\n'
    )
    due, armed = armed_ahead(runner, 4.0)
    pid = wait_for(lambda: held(e2e, "s"), what="s held")[0]
    assert runner.stop() == 0
    assert not pid_alive(pid)
    assert datetime.now(due.tzinfo) < due
    assert not ran_since(marker, armed)
    assert not [r for r in runner.db_runs("s") if r["scheduled_at"] >= dt_to_us(due)]


def test_sigterm_after_the_claim_and_before_the_instant_runs_no_command(e2e: E2E) -> None:
    # a held instant is claimed 50 ms ahead (runtime/prearming.py LEAD); SIGTERM 20 ms before
    # it lands between that claim and the release: the claimed runs end cancelled, unrun
    marker = e2e.root / "ran"
    jobs = "".join(
        f'[jobs.c{i}]\nschedule = "*/10 * * * * *"\ncommand = "date +%s.%N >> {marker}"\n'
        for i in range(3)
    )
    for _attempt in range(3):  # a runner that woke 30 ms late is stopped before its claim
        runner = e2e.start('[cronpy]\nprearm = "6s"\n' + jobs)
        due, armed = armed_ahead(runner, 4.0)
        wait_for(lambda: len(held(e2e, "c0")) == 1, what="c0 held")
        while (left := due.timestamp() - 0.020 - time.time()) > 0:
            time.sleep(min(left, 0.5))
        assert runner.stop() == 0
        while datetime.now(UTC) < due + timedelta(seconds=1):  # the instant has passed
            time.sleep(0.1)
        assert not ran_since(marker, armed)  # whenever the signal landed: nothing ran
        runs = [r for r in runner.db_runs() if r["scheduled_at"] == dt_to_us(due)]
        if runs:
            break
    assert sorted(r["job"] for r in runs) == ["c0", "c1", "c2"], runner.diagnose()
    assert all(r["status"] == "cancelled" and "never ran" in r["reason"] for r in runs), runs
    assert all(r["pid"] is None for r in runs)


def test_kill_9_of_the_runner_while_armed_runs_no_command(e2e: E2E) -> None:
    marker = e2e.root / "ran"
    runner = e2e.start(
        f'[cronpy]\nprearm = "6s"\n[jobs.k]\nschedule = "*/10 * * * * *"\n'
        f'command = "date +%s.%N >> {marker}"\n'
    )
    due, armed = armed_ahead(runner, 4.0)
    pids = wait_for(lambda: held(e2e, "k"), what="k held")
    runner.send(signal.SIGKILL)
    runner.wait_exit()
    # its gate's write end closed with the runner: the held shell reads end of file and exits
    wait_for(lambda: not any(pid_alive(p) for p in pids), what="the held process to exit")
    assert datetime.now(due.tzinfo) < due
    wait_for(lambda: datetime.now(due.tzinfo) > due, timeout=10, what="the due instant to pass")
    assert not ran_since(marker, armed)


def test_a_held_runs_timeout_counts_from_its_release(e2e: E2E) -> None:
    # held up to 6 s, then 1.5 s of work under a 3 s timeout: counted from the arm, it
    # would time out; counted from the release, it succeeds
    runner = e2e.start(
        '[cronpy]\nprearm = "6s"\n[jobs.t]\nschedule = "*/10 * * * * *"\n'
        'command = "sleep 1.5"\ntimeout = "3s"\n'
    )
    due, _ = armed_ahead(runner, 4.0)
    run = runner.wait_runs("t", 1, scheduled_at=dt_to_us(due), status="succeeded")[0]
    assert run["started_at"] >= dt_to_us(due)
    assert run["ended_at"] - run["started_at"] >= 1_400_000
