"""Real runners on one PostgreSQL store share `after` counts and pending retries (DESIGN §9):
a job after two parents that end on different runners runs once per pair, and a retry whose
planner is killed before it is due starts on the other runner, once."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from .conftest import E2E, wait_for
from .test_many_runners import Fleet

pytestmark = pytest.mark.e2e


@pytest.fixture
def fleet(e2e: E2E, postgres_url: str) -> Iterator[Fleet]:
    yield Fleet(e2e, postgres_url)


def start_with(fleet: Fleet, files: list[Path]) -> None:
    """One runner per job file (a runner schedules what its own file enables)."""
    for i, path in enumerate(files):
        fleet.runners.append(
            fleet.e2e.start(env=fleet.env(i), args=["--store", fleet.url], job_file=path)
        )


def parents(out: Path, *, a: bool, b: bool) -> str:
    off = "enabled = false\n"
    return (
        '[cronpy]\nshutdown_grace = "5s"\n'
        f'[jobs.a]\nschedule = "every 1s"\ncommand = "true"\n{"" if a else off}'
        f'[jobs.b]\nschedule = "every 3s"\ncommand = "true"\n{"" if b else off}'
        f'[jobs.c]\nafter = ["a", "b"]\ncommand = "echo $CRONPY_SCHEDULED_AT >> {out}/c"\n'
    )


def test_a_job_after_parents_ending_on_different_runners_runs_once_per_pair(
    fleet: Fleet,
) -> None:
    # runner 0 runs only a, runner 1 only b: neither sees both parents succeed
    x = fleet.e2e.write_jobs(parents(fleet.out, a=True, b=False), fleet.e2e.root / "x.toml")
    y = fleet.e2e.write_jobs(parents(fleet.out, a=False, b=True), fleet.e2e.root / "y.toml")
    start_with(fleet, [x, y])
    wait_for(lambda: sum(fleet.starts().values()) >= 4, 40, "four starts of c")
    for runner in fleet.runners:
        assert runner.stop() == 0, runner.diagnose()
    by_job: dict[str, list[tuple[object, ...]]] = {}
    for row in fleet.rows("SELECT job, status, runner_id, reason FROM runs ORDER BY id"):
        by_job.setdefault(str(row[0]), []).append(row)
    assert len({r[2] for r in by_job["a"]}) == 1 and len({r[2] for r in by_job["b"]}) == 1
    assert {r[2] for r in by_job["a"]} != {r[2] for r in by_job["b"]}
    ok_a = sum(r[1] == "succeeded" for r in by_job["a"])
    ok_b = sum(r[1] == "succeeded" for r in by_job["b"])
    started = [r for r in by_job["c"] if r[1] != "skipped"]
    waiting = [r for r in by_job["c"] if r[1] == "skipped"]
    starts = fleet.starts()
    assert not {line: n for line, n in starts.items() if n > 1}  # none started twice
    assert sum(starts.values()) == len(started)
    # b is the slower parent: c runs once per b success (the first b may come before any a)
    assert ok_b - 1 <= len(started) <= ok_b, (ok_a, ok_b, len(started))
    assert all("waiting for" in str(r[3]) for r in waiting)
    # every upstream success left a start or a record, but those ending as a runner shut down
    assert ok_a + ok_b - 2 <= len(started) + len(waiting) <= ok_a + ok_b
    print(f"\nafter across runners: a {ok_a}, b {ok_b}, c started {len(started)}, 0 doubled")


def test_a_retry_whose_planner_was_killed_starts_on_the_other_runner_once(fleet: Fleet) -> None:
    fleet.write_once_in_4s(
        "flaky",
        # fails on its first attempt only
        f"echo $CRONPY_ATTEMPT >> {fleet.out}/flaky; test $CRONPY_ATTEMPT -ge 2",
        '{ attempts = 3, backoff = "constant", delay = "4s" }',
    )
    fleet.start(2)
    wait_for(lambda: fleet.rows("SELECT 1 FROM retries WHERE job = 'flaky'"), 30, "a retry")
    ((planner,),) = fleet.rows("SELECT runner_id FROM runs WHERE job = 'flaky' AND attempt = 1")
    ((retry_due,),) = fleet.rows("SELECT due_at FROM retries WHERE job = 'flaky'")
    doomed = fleet.runner(planner)
    doomed.send(signal.SIGKILL)  # before the retry is due: it lived in the planner's memory
    doomed.wait_exit()
    assert datetime.now(UTC) < retry_due  # type: ignore[operator]
    wait_for(
        lambda: fleet.rows("SELECT 1 FROM runs WHERE attempt = 2 AND status = 'succeeded'"),
        30,
        "the retry, on the other runner",
    )
    ((started_at, retried_by),) = fleet.rows(
        "SELECT started_at, runner_id FROM runs WHERE job = 'flaky' AND attempt = 2"
    )
    assert retried_by != planner
    late = (started_at - retry_due).total_seconds()  # type: ignore[operator]
    survivor = next(r for r in fleet.runners if r is not doomed)
    time.sleep(2)  # two more heartbeats' sweeps: nothing starts it again
    assert (fleet.out / "flaky").read_text().split() == ["1", "2"]
    assert fleet.rows("SELECT count(*) FROM runs WHERE job = 'flaky'") == [(2,)]
    assert fleet.rows("SELECT 1 FROM retries") == []  # claimed: no longer pending
    assert survivor.stop() == 0, survivor.diagnose()
    print(f"\nretry of a killed planner: started {late:.2f} s after it was due, once")
