"""The runner against a hostile machine: a full disk, its lock removed under it, a second runner
on the same jobs; and the process chores (second stop signal, daemon cwd, log reopening, pid
file, a refused reload)."""

from __future__ import annotations

import contextlib
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
    # every second of the outage is accounted for, by a run (late) or a record saying why not
    gaps = {b - a for a, b in zip(scheduled, scheduled[1:], strict=False)}
    assert gaps == {1_000_000}, gaps
    assert not any(r["status"] == "missed" for r in rows)  # the runner never was down
    # the queued records were written in the order they were made; only the start whose claim
    # the full disk refused comes after them (claimed late, once the queue was written)
    late = [r for r in rows if r["created_at"] - r["scheduled_at"] > 2_000_000]
    assert len(late) <= 1 and all(r["status"] == "succeeded" for r in late), late
    in_order = [r["scheduled_at"] for r in rows if r not in late]
    assert in_order == sorted(in_order)


def test_the_wal_stays_bounded_while_jobs_are_always_due(e2e: E2E) -> None:
    """Three one-second jobs: never a second without work, so an idle-only checkpoint never ran."""
    jobs = "".join(f'[jobs.j{i}]\nschedule = "every 1s"\ncommand = "true"\n' for i in range(3))
    runner = e2e.start(jobs, env={"CRONPY_CHECKPOINT_INTERVAL": "2"})
    wal = e2e.state_dir / "state.db-wal"
    runner.wait_runs("j0", 12, status="succeeded", timeout=30)
    assert wal.stat().st_size < 400_000, wal.stat().st_size
