"""The runner against a hostile machine: a full disk, its lock removed under it, a second runner
on the same jobs; and the process chores (second stop signal, daemon cwd, log reopening, pid
file, a refused reload)."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import CRONPY, E2E, WAIT, pid_alive, run_cli, wait_for

pytestmark = pytest.mark.e2e

EVERY_SECOND = (
    '[cronpy]\nshutdown_grace = "5s"\n[jobs.beat]\nschedule = "every 1s"\ncommand = "true"\n'
)


# -- a full disk -----------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, or a skip where mounting is not allowed."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> None:
    """Write ``path`` until the file system says it is full."""
    with path.open("wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()


def test_a_full_disk_degrades_the_runner_which_survives_and_catches_up(
    e2e: E2E, tiny_disk: Path
) -> None:
    state = tiny_disk / "state"
    runner = e2e.start(
        EVERY_SECOND,
        # a checkpoint every 2 s instead of 30: the failing maintenance comes round many times
        env={"CRONPY_STATE_DIR": str(state), "CRONPY_CHECKPOINT_INTERVAL": "2"},
    )
    runner.state_dir = state
    env = {**e2e.env, "CRONPY_STATE_DIR": str(state)}
    runner.wait_runs("beat", 2, status="succeeded")
    _fill(tiny_disk / "filler")
    degraded = runner.wait_event("degraded", timeout=30)
    assert "full" in degraded["reason"]
    # status says so although nothing can be written (runner.json is rewritten in place)
    status = json.loads(run_cli(env, "status", "--json", check=0).stdout)
    assert "state writes failing" in (status["runners"][0]["degraded"] or "")
    # many checkpoints fail meanwhile (they used to stop the runner): it stays up
    failed_at = time.monotonic()
    runner.wait_event("checkpoint-failed", timeout=30)
    while time.monotonic() - failed_at < 12:
        assert runner.alive, runner.diagnose()
        time.sleep(0.2)
    (tiny_disk / "filler").unlink()
    runner.wait_event("recovered", timeout=30)
    assert runner.alive
    last = max(r["id"] for r in runner.db_runs("beat"))
    runner.wait_for(
        lambda: any(
            r["id"] > last + 2 and r["status"] == "succeeded" for r in runner.db_runs("beat")
        ),
        20,
        "runs after the recovery",
    )
    assert runner.stop() == 0
    rows = runner.db_runs("beat")
    assert all(r["status"] != "running" for r in rows)
    scheduled = sorted(r["scheduled_at"] for r in rows)
    assert len(scheduled) == len(set(scheduled)), "an occurrence recorded twice"
    # every second of the outage is accounted for once: by a run (late), or by the one missed
    # record that says the database refused writes and how many occurrences, up to its own,
    # it stands for
    covered = sorted(
        r["scheduled_at"] - k * 1_000_000
        for r in rows
        for k in range(r["missed_count"] if r["status"] == "missed" else 1)
    )
    table = [
        (r["id"], r["status"], r["scheduled_at"], r["missed_count"], r["reason"]) for r in rows
    ]
    assert len(covered) == len(set(covered)), f"an occurrence accounted for twice: {table}"
    gaps = {b - a for a, b in itertools.pairwise(covered)}
    assert gaps == {1_000_000}, gaps
    missed = [r for r in rows if r["status"] == "missed"]
    assert all("refused writes" in r["reason"] for r in missed), missed
    assert not any(r["status"] == "skipped" for r in rows)  # nothing was really running
    # the queued records were written in the order they were made; only the start whose claim
    # the full disk refused, and the missed record written once it was claimed, come later
    late = [r for r in rows if r["created_at"] - r["scheduled_at"] > 2_000_000]
    assert len(late) <= 2 and all(r["status"] in ("succeeded", "missed") for r in late), late
    in_order = [r["scheduled_at"] for r in rows if r not in late]
    assert in_order == sorted(in_order)


def test_the_wal_stays_bounded_while_jobs_are_always_due(e2e: E2E) -> None:
    """Three one-second jobs: never a second without work, so an idle-only checkpoint never ran."""
    jobs = "".join(f'[jobs.j{i}]\nschedule = "every 1s"\ncommand = "true"\n' for i in range(3))
    runner = e2e.start(jobs, env={"CRONPY_CHECKPOINT_INTERVAL": "2"})
    wal = e2e.state_dir / "state.db-wal"
    runner.wait_runs("j0", 12, status="succeeded", timeout=30)
    assert wal.stat().st_size < 400_000, wal.stat().st_size


# -- the lock -------------------------------------------------------------------------------

LONG_JOB = (
    '[cronpy]\nshutdown_grace = "20s"\n[jobs.long]\nschedule = "every 1s"\ncommand = "sleep 3"\n'
)


def test_a_removed_lock_file_neither_lets_a_second_runner_in_nor_loses_live_runs(e2e: E2E) -> None:
    first = e2e.start(LONG_JOB)
    (run,) = first.wait_runs("long", 1, status="running")
    (e2e.state_dir / "runner.lock").unlink()
    second = e2e.start(wait_ready=False)
    assert second.wait_exit() == 2
    assert f"runner pid {first.pid}" in second.stderr_text()
    assert "still runs" in second.stderr_text()
    # the live runner's run was not declared lost, nor its process killed
    assert next(r for r in first.db_runs("long") if r["id"] == run["id"])["status"] != "lost"
    # the first one noticed at its next wake-up: it claims nothing more, lets the run finish,
    # and exits 3 so a supervisor restarts it onto a real lock
    lost = first.wait_event("lock-lost")
    assert "removed" in lost["reason"]
    assert first.wait_exit(timeout=WAIT) == 3
    rows = first.db_runs("long")
    assert all(r["status"] not in ("running", "lost") for r in rows), rows
    after = [e for e in first.events("start") if e["ts"] > lost["ts"]]
    assert not after, after


def test_a_removed_state_directory_stops_the_runner_claiming(e2e: E2E) -> None:
    first = e2e.start(LONG_JOB)
    first.wait_runs("long", 1, status="running")
    subprocess.run(["rm", "-rf", str(e2e.state_dir)], check=True)
    # the same job file under a fresh state: refused while the first runner lives (one machine)
    second = e2e.start(wait_ready=False)
    assert second.wait_exit() == 2
    assert (
        f"pid {first.pid}" in second.stderr_text() and "--allow-duplicate" in second.stderr_text()
    )
    lost = first.wait_event("lock-lost")
    assert "state directory" in lost["reason"]
    assert first.wait_exit() == 3
    assert not [e for e in first.events("start") if e["ts"] > lost["ts"]]
    third = e2e.start()  # now it may: and the old runner removed nothing of its new state
    third.wait_runs("long", 1)
    assert (e2e.state_dir / "runner.json").exists() and (e2e.state_dir / "wake.sock").exists()


def test_the_same_job_file_under_two_state_dirs_is_refused_unless_allowed(e2e: E2E) -> None:
    first = e2e.start(EVERY_SECOND)
    other = {"CRONPY_STATE_DIR": str(e2e.root / "other-state")}
    second = e2e.start(env=other, wait_ready=False)
    assert second.wait_exit() == 2
    text = second.stderr_text()
    assert f"pid {first.pid}" in text and str(e2e.state_dir) in text
    assert "Traceback" not in text
    third = e2e.start(env=other, args=["--allow-duplicate"])
    assert third.alive


# -- the process -----------------------------------------------------------------------------


def test_a_second_stop_signal_cancels_the_running_jobs_at_once(e2e: E2E) -> None:
    runner = e2e.start(
        '[cronpy]\nshutdown_grace = "60s"\n'
        '[jobs.slow]\nschedule = "every 1s"\ncommand = "sleep 60"\n'
    )
    (run,) = runner.wait_runs("slow", 1, status="running")
    runner.send(signal.SIGINT)
    runner.wait_event("stopping")
    t0 = time.monotonic()
    runner.send(signal.SIGINT)
    assert runner.wait_exit(timeout=WAIT) == 0
    assert time.monotonic() - t0 < 10  # not the 60 s grace
    (row,) = [r for r in runner.db_runs("slow") if r["id"] == run["id"]]
    assert row["status"] == "cancelled"


def _daemon(e2e: E2E, *args: str) -> int:
    """Start ``cronpy run jobs.toml --daemon`` from the e2e directory, the job file relative."""
    subprocess.run(
        [CRONPY, "run", e2e.job_file.name, "--daemon", "--log-format", "json", *args],
        env=e2e.env,
        cwd=e2e.root,
        check=True,
        timeout=30,
    )
    pid = int((e2e.state_dir / "runner.pid").read_text())
    e2e.extra_pids.append(pid)
    return pid


def _log_events(path: Path, name: str) -> list[dict[str, object]]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    return [e for e in map(json.loads, lines) if e.get("event") == name]


def test_the_daemon_leaves_its_cwd_and_reopens_its_log(e2e: E2E) -> None:
    e2e.write_jobs(EVERY_SECOND)
    pid = _daemon(e2e)
    assert os.readlink(f"/proc/{pid}/cwd") == "/"
    log = e2e.state_dir / "runner.log"
    wait_for(lambda: _log_events(log, "ready"), WAIT, "the daemon's ready line")
    # logrotate: move the file away, then SIGUSR1; the next events land in a new runner.log
    rotated = log.rename(e2e.state_dir / "runner.log.1")
    os.kill(pid, signal.SIGUSR1)
    wait_for(lambda: _log_events(log, "log-reopened"), WAIT, "a new runner.log")
    lines_before = len(rotated.read_text().splitlines())
    wait_for(lambda: _log_events(log, "start"), WAIT, "a job's start in the new runner.log")
    assert len(rotated.read_text().splitlines()) <= lines_before + 1
    # a reload reopens it too (the job file is relative to where the daemon was started)
    log.rename(e2e.state_dir / "runner.log.2")
    e2e.cli("reload", check=0)
    wait_for(lambda: _log_events(log, "log-reopened"), WAIT, "runner.log after a reload")
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not pid_alive(pid), WAIT, "the daemon to exit")


def test_a_pid_file_without_daemon_is_written_and_removed(e2e: E2E) -> None:
    pid_file = e2e.root / "cronpy.pid"
    runner = e2e.start(EVERY_SECOND, args=["--pid-file", str(pid_file)])
    assert pid_file.read_text().strip() == str(runner.pid)
    assert runner.stop() == 0
    assert not pid_file.exists()
