"""Several runners, as separate processes, on one PostgreSQL store (DESIGN §9): every
occurrence starts exactly once, the work is spread, a killed runner's run is lost and retried
on another, and requests from commands reach every runner."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tests.pgserver import PgServer

from .conftest import E2E, Runner, run_cli, wait_for

pytestmark = pytest.mark.e2e

LEASE = "3"  # seconds (CRONPY_LEASE_SECONDS): heartbeats every second, failover in seconds


class Fleet:
    """N runners sharing one job file and one store, each with its own state directory."""

    def __init__(self, e2e: E2E, url: str) -> None:
        self.e2e, self.url = e2e, url
        self.runners: list[Runner] = []
        self.out = e2e.root / "out"
        self.out.mkdir()

    def env(self, i: int) -> dict[str, str]:
        return {
            "CRONPY_STATE_DIR": str(self.e2e.root / f"state{i}"),
            "CRONPY_LEASE_SECONDS": LEASE,
        }

    def start(self, n: int) -> None:
        for i in range(len(self.runners), len(self.runners) + n):
            self.runners.append(self.e2e.start(env=self.env(i), args=["--store", self.url]))

    def cli(self, i: int, *args: str, check: int | None = 0) -> str:
        env = {**self.e2e.env, **self.env(i)}
        return run_cli(env, *args, check=check).stdout

    def rows(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        with psycopg.connect(self.url, autocommit=True) as db:
            return db.execute(sql, params).fetchall()

    def write_once_in_4s(self, job: str, command: str, retry: str) -> None:
        """A job file with ``job`` due once, 4 s from now, with ``retry``."""
        due = (datetime.now(UTC) + timedelta(seconds=4)).replace(microsecond=0)
        self.e2e.write_jobs(
            f'[cronpy]\nshutdown_grace = "2s"\n[jobs.{job}]\n'
            f'at = ["{due.strftime("%Y-%m-%dT%H:%M:%S")}+00:00"]\n'
            f"command = {json.dumps(command)}\nretry = {retry}\n"
        )

    def runner(self, runner_id: object) -> Runner:
        """The runner process that registered as ``runner_id`` in the store."""
        registered = dict(self.rows("SELECT id, pid FROM runners"))
        return next(r for r in self.runners if r.pid == registered[runner_id])

    def starts(self) -> Counter[str]:
        """How often each occurrence (job and due time) started, by the jobs' own account."""
        return Counter(
            f"{f.name} {line}"
            for f in self.out.iterdir()
            for line in f.read_text().splitlines()
            if line
        )


@pytest.fixture
def fleet(e2e: E2E, postgres_url: str) -> Iterator[Fleet]:
    yield Fleet(e2e, postgres_url)


def every_second(n: int, out: Path) -> str:
    return "".join(
        f'[jobs.j{i:02d}]\nschedule = "every 1s"\n'
        f'command = "echo $CRONPY_SCHEDULED_AT >> {out}/j{i:02d}"\n'
        for i in range(n)
    )


def test_three_runners_start_each_occurrence_once_and_share_the_work(fleet: Fleet) -> None:
    fleet.e2e.write_jobs('[cronpy]\nshutdown_grace = "5s"\n' + every_second(30, fleet.out))
    fleet.start(3)
    wait_for(lambda: sum(fleet.starts().values()) >= 450, 40, "450 starts")
    for runner in fleet.runners:
        assert runner.stop() == 0, runner.diagnose()
    starts = fleet.starts()
    doubled = {line: n for line, n in starts.items() if n > 1}
    assert not doubled, doubled
    runs = fleet.rows("SELECT runner_id, status FROM runs WHERE trigger = 'schedule'")
    assert len(runs) >= 450
    others = fleet.rows(
        "SELECT job, scheduled_at, status, reason, runner_id, missed_count FROM runs"
        " WHERE status <> 'succeeded' ORDER BY scheduled_at LIMIT 12"
    )
    assert all(status == "succeeded" for _, status in runs), others
    share = Counter(runner for runner, _ in runs)
    assert len(share) == 3, share
    assert max(share.values()) <= len(runs) / 2, share  # nobody takes more than half
    print(f"\nthree runners: {len(runs)} starts, share {sorted(share.values())}, 0 doubled")


def test_a_killed_runners_run_is_lost_then_retried_on_another(fleet: Fleet) -> None:
    fleet.write_once_in_4s(
        "long",
        f"echo $CRONPY_ATTEMPT >> {fleet.out}/long; sleep 30",
        '{ attempts = 2, backoff = "constant", delay = "1s" }',
    )
    fleet.start(2)
    # started (a pid), not only claimed: a pre-armed run is claimed ~50 ms before its release
    started = "SELECT id, runner_id FROM runs WHERE status = 'running' AND pid IS NOT NULL"
    wait_for(lambda: fleet.rows(started), 20, "a running run")
    ((run_id, holder),) = fleet.rows(started)
    doomed = fleet.runner(holder)
    killed_at = time.monotonic()
    doomed.send(signal.SIGKILL)
    doomed.wait_exit()
    wait_for(
        lambda: fleet.rows("SELECT 1 FROM runs WHERE attempt = 2 AND status = 'running'"),
        30,
        "the retry on the other runner",
    )
    failover = time.monotonic() - killed_at
    ((status, reason),) = fleet.rows("SELECT status, reason FROM runs WHERE id = %s", run_id)
    assert status == "lost", reason
    ((retried_by,),) = fleet.rows("SELECT runner_id FROM runs WHERE attempt = 2")
    assert retried_by != holder
    # the dead runner's own command lives on (the next runner on its host kills such
    # leftovers: tests/e2e/test_faults.py); here the test does
    ((pid,),) = fleet.rows("SELECT pid FROM runs WHERE id = %s", run_id)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(int(pid), signal.SIGKILL)  # type: ignore[call-overload]
    print(f"\nfailover (kill -9 to the retry's start): {failover:.1f} s with a {LEASE} s lease")
    survivor = fleet.runners.index(next(r for r in fleet.runners if r is not doomed))
    runners = json.loads(fleet.cli(survivor, "status", "--json"))["runners"]
    by_id = {r["id"]: r for r in runners}
    assert by_id[holder]["silent"] is True  # the dead one, gone silent
    assert [r["runs"] for r in runners if not r["silent"]] == [1]  # the survivor holds the retry
    human = fleet.cli(survivor, "status")
    assert "silent (dead or cut off)" in human and "1 run(s) held" in human
    for runner in fleet.runners:
        if runner.alive:
            runner.stop()


def test_pause_trigger_and_cancel_from_one_host_reach_every_runner(fleet: Fleet) -> None:
    fleet.e2e.write_jobs(
        '[cronpy]\nshutdown_grace = "2s"\n'
        + every_second(4, fleet.out)
        + '[jobs.manual]\nschedule = "@yearly"\ncommand = "sleep 60"\n'
    )
    fleet.start(3)
    wait_for(lambda: len(fleet.starts()) >= 12, 20, "runs of every job")
    # pause through runner 0's state directory: nobody starts j00 any more, within a second
    fleet.cli(0, "pause", "j00")
    time.sleep(1.5)
    paused_at = datetime.now(UTC)
    time.sleep(3)
    late = fleet.rows(
        "SELECT count(*) FROM runs WHERE job = 'j00' AND status = 'succeeded' AND started_at > %s",
        paused_at,
    )
    assert late == [(0,)], late
    skipped = fleet.rows("SELECT count(*) FROM runs WHERE job = 'j00' AND status = 'skipped'")
    assert skipped[0][0] >= 2
    fleet.cli(1, "resume", "j00")  # from another runner's host
    wait_for(
        lambda: fleet.rows(
            "SELECT 1 FROM runs WHERE job = 'j00' AND status = 'succeeded' AND started_at > %s",
            datetime.now(UTC) - timedelta(seconds=1),
        ),
        10,
        "j00 running again",
    )
    # trigger from runner 2's host: one runner (any) starts it, once
    asked = time.monotonic()
    fleet.cli(2, "trigger", "manual")
    wait_for(
        lambda: fleet.rows("SELECT 1 FROM runs WHERE job = 'manual' AND status = 'running'"),
        10,
        "the triggered run",
    )
    took = time.monotonic() - asked
    assert took < 3, took
    assert len(fleet.rows("SELECT 1 FROM runs WHERE job = 'manual'")) == 1
    # cancel from runner 0's host: the runner holding it stops it
    fleet.cli(0, "cancel", "manual")
    wait_for(
        lambda: fleet.rows("SELECT 1 FROM runs WHERE job = 'manual' AND status = 'cancelled'"),
        10,
        "the cancelled run",
    )
    status = json.loads(fleet.cli(0, "status", "--json"))
    assert len([r for r in status["runners"] if not r["silent"]]) == 3
    for runner in fleet.runners:
        assert runner.stop() == 0, runner.diagnose()
    assert not [line for line, n in fleet.starts().items() if n > 1]


def test_the_database_restarted_under_the_runners_doubles_and_loses_nothing(
    fleet: Fleet, postgres_server: PgServer
) -> None:
    fleet.e2e.write_jobs('[cronpy]\nshutdown_grace = "3s"\n' + every_second(10, fleet.out))
    fleet.start(2)
    wait_for(lambda: sum(fleet.starts().values()) >= 40, 20, "runs before the outage")
    postgres_server.halt()
    try:
        time.sleep(5)  # longer than a lease: both runners are cut off
    finally:
        postgres_server.resume()
    before = sum(fleet.starts().values())
    wait_for(lambda: sum(fleet.starts().values()) >= before + 60, 40, "runs after the restart")
    for runner in fleet.runners:
        assert runner.alive, runner.diagnose()
        assert runner.stop() == 0, runner.diagnose()
    starts = fleet.starts()
    assert not [line for line, n in starts.items() if n > 1]  # nothing started twice
    rows = fleet.rows(
        "SELECT job, scheduled_at, status, missed_count FROM runs WHERE trigger = 'schedule'"
    )
    assert not [r for r in rows if r[2] == "running"]
    # every started occurrence has its history row, and the gap is accounted for
    recorded = {(job, at) for job, at, status, _ in rows if status != "missed"}
    started = {tuple(line.split(" ", 1)) for line in starts}
    assert {(job, datetime.fromisoformat(at)) for job, at in started} <= recorded
    print(f"\ndatabase restart: {len(starts)} starts, 0 doubled, {len(rows)} records")


def test_forbid_holds_across_runners(fleet: Fleet) -> None:
    fleet.e2e.write_jobs(
        '[cronpy]\nshutdown_grace = "5s"\n'
        f'[jobs.slow]\nschedule = "every 1s"\ncommand = "sleep 2.5; echo x >> {fleet.out}/slow"\n'
    )
    fleet.start(2)
    # eight runs: all eight preferring one runner has odds under 1 in 100
    wait_for(
        lambda: len(fleet.rows("SELECT 1 FROM runs WHERE status = 'succeeded'")) >= 8,
        60,
        "eight runs of the slow job",
    )
    for runner in fleet.runners:
        assert runner.stop() == 0, runner.diagnose()
    runs = fleet.rows(
        "SELECT started_at, ended_at, runner_id FROM runs WHERE status = 'succeeded'"
        " ORDER BY started_at"
    )
    # never two at once, whichever runner ran them
    for (_, ended, _), (started, _, _) in itertools.pairwise(runs):
        assert started >= ended, runs
    assert len({runner for *_, runner in runs}) == 2, runs  # both runners took turns
    # the occurrences due while a run went on were skipped for overlap, by whichever runner
    # decided them (the one holding the run, or another seeing it in the store)
    skipped = fleet.rows("SELECT count(*) FROM runs WHERE reason LIKE %s", "overlap%")
    assert skipped[0][0] >= 1


def test_a_runner_cut_off_for_a_whole_lease_kills_its_run_rather_than_finish_it_unseen(
    fleet: Fleet, postgres_server: PgServer
) -> None:
    due = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    fleet.e2e.write_jobs(
        '[cronpy]\nshutdown_grace = "2s"\n'
        f'[jobs.long]\nat = ["{due.strftime("%Y-%m-%dT%H:%M:%S")}+00:00"]\n'
        f'command = "echo $$ > {fleet.out}/pid; sleep 60"\n'
    )
    fleet.start(1)
    pid_file = fleet.out / "pid"
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), 20, "the run")
    pid = int(pid_file.read_text())
    postgres_server.halt("fast")  # the runner is cut off from the store: its lease runs out
    try:
        (runner,) = fleet.runners
        runner.wait_event("lease-expired", timeout=20)
        wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 10, "the job killed")
    finally:
        postgres_server.resume()
    assert runner.alive, runner.diagnose()
    assert runner.stop() == 0, runner.diagnose()
    ((status, reason),) = fleet.rows("SELECT status, reason FROM runs WHERE job = 'long'")
    assert (status, reason) == ("cancelled", "lease expired: the runner lost the store")
