"""The contract every Store implementation passes, run against each backend in conftest.py.

What only one backend does (files, pragmas, migrations of an old database) is tested beside
it, e.g. tests/unit/test_sqlite_store.py.
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import cronpy.store
from cronpy.errors import StateError, UsageError
from cronpy.interfaces import Store
from cronpy.model import (
    Claim,
    Control,
    ControlKind,
    Finish,
    JobState,
    RetryDue,
    Spawned,
    Status,
    Trigger,
)

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
HOST = "host-a"

Opener = Callable[[], Store]  # the backend fixture (conftest.py): one more store on the database


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def runner(store: Store) -> int:
    store.save_job_states([JobState(name=n, first_seen=T0) for n in ("backup", "report", "sync")])
    return store.register_runner(HOST, 4242, T0)


def claim(store: Store, runner: int, job: str = "backup", seconds: float = 0, **kw: object) -> int:
    args: dict[str, object] = {
        "job": job,
        "scheduled_at": at(seconds),
        "trigger": Trigger.SCHEDULE,
        "attempt": 1,
        "started_at": at(seconds + 0.25),
        "host": HOST,
        "runner_id": runner,
    }
    args.update(kw)
    run_id = store.claim_run(**args)  # type: ignore[arg-type]
    assert run_id is not None
    return run_id


def finish(store: Store, run_id: int, seconds: float, status: Status = Status.SUCCEEDED) -> None:
    store.finish_run(run_id, Finish(status=status, ended_at=at(seconds), exit_code=0))


# -- claiming and finishing ------------------------------------------------------------------


def test_second_claim_of_the_same_occurrence_is_refused(store: Store, runner: int) -> None:
    first = claim(store, runner)
    again = store.claim_run(
        job="backup",
        scheduled_at=at(0),
        trigger=Trigger.CATCH_UP,
        attempt=1,
        started_at=at(5),
        host="host-b",
        runner_id=runner,
    )
    assert again is None
    # another attempt, another job or another time are other occurrences
    assert claim(store, runner, attempt=2) != first
    assert claim(store, runner, job="report") != first
    assert claim(store, runner, seconds=60) != first
    assert [r.id for r in store.runs("backup", limit=10)][-1] == first
    assert len(store.runs("backup", limit=10)) == 3


def test_claims_through_two_store_objects_still_run_an_occurrence_once(
    backend: Opener, runner: int
) -> None:
    other = backend()
    assert claim(other, runner) is not None
    assert (
        backend().claim_run(
            job="backup",
            scheduled_at=at(0),
            trigger=Trigger.SCHEDULE,
            attempt=1,
            started_at=at(1),
            host=HOST,
            runner_id=runner,
        )
        is None
    )


def test_claim_and_finish_round_trip_every_field(store: Store, runner: int) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    scheduled = datetime(2026, 3, 29, 3, 0, 0, 1, tzinfo=berlin)  # just after the DST jump
    started = scheduled + timedelta(milliseconds=7, microseconds=3)
    run_id = store.claim_run(
        job="backup",
        scheduled_at=scheduled,
        trigger=Trigger.RETRY,
        attempt=2,
        started_at=started,
        host=HOST,
        runner_id=runner,
        log_path="/state/logs/backup/1.log",
    )
    assert run_id is not None
    running = store.get_run(run_id)
    assert running is not None
    assert running.status is Status.RUNNING
    assert running.ended_at is None
    store.set_pid(run_id, 31337)
    ended = started + timedelta(seconds=61, microseconds=999_999)
    done = store.finish_run(
        run_id,
        Finish(
            status=Status.KILLED,
            ended_at=ended,
            exit_code=None,
            signal=9,
            output_tail="last line ✓\n",
            reason="killed by signal 9",
            cpu_seconds=1.25,
            max_rss_kib=51_200,
        ),
    )
    assert done.id == run_id
    assert (done.cpu_seconds, done.max_rss_kib) == (1.25, 51_200)
    assert done.job == "backup"
    assert done.status is Status.KILLED
    assert done.trigger is Trigger.RETRY
    assert done.attempt == 2
    assert done.scheduled_at == scheduled
    assert done.started_at == started
    assert done.ended_at == ended
    for stamp in (done.scheduled_at, done.started_at, done.ended_at):
        assert stamp is not None
        assert stamp.utcoffset() == timedelta(0)
    assert done.duration == pytest.approx(61.999999)
    assert done.lateness == pytest.approx(0.007003)
    assert (done.exit_code, done.signal) == (None, 9)
    assert done.host == HOST
    assert done.pid == 31337
    assert done.output_tail == "last line ✓\n"
    assert done.reason == "killed by signal 9"
    assert done.log_path == "/state/logs/backup/1.log"
    assert store.get_run(run_id) == done


def test_set_pid_keeps_the_log_path_unless_given(store: Store, runner: int) -> None:
    run_id = claim(store, runner, log_path="/a.log")
    store.set_pid(run_id, 10)
    assert store.get_run(run_id).log_path == "/a.log"  # type: ignore[union-attr]
    store.set_pid(run_id, 11, log_path="/b.log")
    run = store.get_run(run_id)
    assert run is not None
    assert (run.pid, run.log_path) == (11, "/b.log")


def test_finishing_an_unknown_run_is_a_state_error(store: Store) -> None:
    with pytest.raises(StateError, match="no run 999"):
        store.finish_run(999, Finish(status=Status.SUCCEEDED, ended_at=T0))


def test_naive_datetimes_are_refused(store: Store, runner: int) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.register_runner(HOST, 1, datetime(2026, 1, 1))


def test_get_run_of_unknown_id_is_none(store: Store) -> None:
    assert store.get_run(12345) is None


def test_get_runs_fetches_many_at_once_and_skips_unknown_ids(store: Store, runner: int) -> None:
    ids = [claim(store, runner, job=f"job{i}") for i in range(600)]  # more than one chunk
    found = store.get_runs([*ids, 99999, ids[0]])
    assert sorted(found) == sorted(ids)
    assert all(found[i].id == i and found[i].job == f"job{n}" for n, i in enumerate(ids))


def test_set_pids_records_several_starts_at_once(store: Store, runner: int) -> None:
    first, second = claim(store, runner, seconds=1), claim(store, runner, seconds=2)
    store.set_pids([Spawned(first, 101, "/logs/1.log", at(1.5)), Spawned(second, 102)])
    one, two = store.get_run(first), store.get_run(second)
    assert one is not None and (one.pid, one.log_path) == (101, "/logs/1.log")
    assert one.started_at == at(1.5)  # when the command really started, not the claim
    assert two is not None and (two.pid, two.log_path) == (102, None)
    assert two.started_at == at(2.25)  # unchanged: the claim's


def test_claim_runs_claims_a_batch_in_order_and_skips_taken_occurrences(
    store: Store, runner: int
) -> None:
    taken = claim(store, runner, seconds=2)
    claims = [
        Claim(
            job="backup",
            scheduled_at=at(s),
            trigger=Trigger.SCHEDULE,
            attempt=1,
            started_at=at(10),
            host=HOST,
            runner_id=runner,
            cursor=at(s),
        )
        for s in (1, 2, 3)
    ]
    first, again, third = store.claim_runs(claims)
    assert again is None and first is not None and third is not None
    assert first < third and taken < first
    state = store.job_state("backup")
    assert state is not None and state.cursor == at(3)
    assert state.run_count == 3 and state.last_run_id == third


def batch(runner: int, *keys: tuple[str, float], **kw: object) -> list[Claim]:
    return [
        Claim(
            job=job,
            scheduled_at=at(s),
            trigger=Trigger.SCHEDULE,
            attempt=1,
            started_at=at(s + 0.25),
            host=HOST,
            runner_id=runner,
            cursor=at(s),
            **kw,  # type: ignore[arg-type]
        )
        for job, s in keys
    ]


def test_claim_runs_answers_in_input_order_whatever_the_order_of_jobs(
    store: Store, runner: int
) -> None:
    claims = batch(runner, ("sync", 60), ("backup", 120), ("report", 0), ("backup", 60))
    ids = store.claim_runs(claims)
    assert all(i is not None for i in ids)
    for claim_, run_id in zip(claims, ids, strict=True):
        run = store.get_run(run_id)  # type: ignore[arg-type]
        assert run is not None and (run.job, run.scheduled_at) == (claim_.job, claim_.scheduled_at)
    state = store.job_state("backup")
    # the job's last run is its last claim of the batch, its cursor the furthest
    assert state is not None and state.last_run_id == ids[3] and state.cursor == at(120)
    assert state.run_count == 2
    assert store.claim_runs([]) == []


def test_the_same_occurrence_twice_in_one_batch_is_claimed_once(store: Store, runner: int) -> None:
    first, again, other = store.claim_runs(
        batch(runner, ("backup", 0), ("backup", 0), ("report", 0))
    )
    assert first is not None and other is not None and again is None
    assert store.job_state("backup").run_count == 1  # type: ignore[union-attr]


def _race(openers: Sequence[Callable[[], object]]) -> list[object]:
    """Run each function in its own thread, released at once; their results in order."""
    results: list[object] = [None] * len(openers)
    errors: list[BaseException] = []
    gate = threading.Barrier(len(openers))

    def run(i: int) -> None:
        try:
            gate.wait(timeout=10)
            results[i] = openers[i]()
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(openers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


def test_concurrent_claims_from_two_stores_start_each_occurrence_once(
    backend: Opener, runner: int
) -> None:
    # Two runners (two connections) claim the same 400 occurrences at the same instant, in
    # opposite orders: each occurrence is won exactly once, and neither waits on the other
    # forever (the PostgreSQL store inserts in key order, so the two cannot deadlock).
    a, b = backend(), backend()
    other = a.register_runner("host-b", 5151, T0)
    keys = [(job, 60.0 * i) for i in range(200) for job in ("backup", "report")]
    for _ in range(3):
        mine, theirs = batch(runner, *keys), batch(other, *reversed(keys))
        won_a, won_b = _race([lambda: a.claim_runs(mine), lambda: b.claim_runs(theirs)])  # noqa: B023
        assert isinstance(won_a, list) and isinstance(won_b, list)
        winners = [x if x is not None else y for x, y in zip(won_a, reversed(won_b), strict=True)]
        both = [x for x, y in zip(won_a, reversed(won_b), strict=True) if x and y]
        assert both == [] and None not in winners
        keys = [(job, s + 86400) for job, s in keys]
    runs = a.runs(limit=10_000)
    assert len(runs) == len({(r.job, r.scheduled_at) for r in runs}) == 1200
    for name in ("backup", "report"):
        state = b.job_state(name)
        assert state is not None and state.run_count == 600
        assert state.cursor == at(60.0 * 199 + 2 * 86400)


# -- records of occurrences that did not start -------------------------------------------------


def test_record_skipped_and_missed(store: Store, runner: int) -> None:
    skipped = store.record(
        job="backup",
        status=Status.SKIPPED,
        trigger=Trigger.SCHEDULE,
        scheduled_at=at(0),
        at=at(0.5),
        host=HOST,
        runner_id=runner,
        reason="overlap",
    )
    missed = store.record(
        job="backup",
        status=Status.MISSED,
        trigger=Trigger.CATCH_UP,
        scheduled_at=at(3600),
        at=at(7200),
        host=HOST,
        runner_id=None,
        reason="runner was down",
        missed_count=17,
    )
    assert skipped is not None and missed is not None
    s = store.get_run(skipped)
    m = store.get_run(missed)
    assert s is not None and m is not None
    assert (s.status, s.reason, s.missed_count) == (Status.SKIPPED, "overlap", None)
    assert (s.started_at, s.ended_at, s.scheduled_at) == (None, at(0.5), at(0))
    assert s.lateness is None and s.duration is None
    assert (m.status, m.trigger, m.reason, m.missed_count) == (
        Status.MISSED,
        Trigger.CATCH_UP,
        "runner was down",
        17,
    )


def test_an_occurrence_leaves_exactly_one_record(store: Store, runner: int) -> None:
    claim(store, runner)
    for status in (Status.SKIPPED, Status.MISSED):
        assert (
            store.record(
                job="backup",
                status=status,
                trigger=Trigger.SCHEDULE,
                scheduled_at=at(0),
                at=at(1),
                host=HOST,
                runner_id=runner,
            )
            is None
        )
    assert [r.status for r in store.runs("backup")] == [Status.RUNNING]


def test_last_run_id_and_run_count(store: Store, runner: int) -> None:
    first = claim(store, runner)
    state = store.job_state("backup")
    assert state is not None
    assert (state.last_run_id, state.run_count) == (first, 1)
    second = claim(store, runner, seconds=60)
    skipped = store.record(
        job="backup",
        status=Status.SKIPPED,
        trigger=Trigger.SCHEDULE,
        scheduled_at=at(120),
        at=at(120),
        host=HOST,
        runner_id=runner,
        reason="paused",
    )
    state = store.job_state("backup")
    assert state is not None
    assert state.last_run_id == skipped != second
    assert state.run_count == 2  # records are not starts: max_runs counts starts
    other = store.job_state("report")
    assert other is not None
    assert (other.last_run_id, other.run_count) == (None, 0)


def test_claim_for_a_job_never_saved_creates_its_state(store: Store, runner: int) -> None:
    run_id = claim(store, runner, job="adhoc")
    state = store.job_state("adhoc")
    assert state is not None
    assert (state.last_run_id, state.run_count, state.first_seen) == (run_id, 1, at(0.25))


def test_claims_and_records_move_the_cursor_forward_only(store: Store, runner: int) -> None:
    def cursor() -> datetime | None:
        state = store.job_state("backup")
        assert state is not None
        return state.cursor

    claim(store, runner, seconds=60, cursor=at(60))
    assert cursor() == at(60)
    claim(store, runner, seconds=30, cursor=at(30))  # an older claim does not move it back
    assert cursor() == at(60)
    store.record(
        job="backup",
        status=Status.MISSED,
        trigger=Trigger.SCHEDULE,
        scheduled_at=at(90),
        at=at(200),
        host=HOST,
        runner_id=runner,
        missed_count=3,
        cursor=at(120),
    )
    assert cursor() == at(120)
    state = store.job_state("backup")
    assert state is not None
    store.save_job_states([replace(state, cursor=at(10))])  # a stale in-memory copy
    assert cursor() == at(120)
    store.save_job_states([replace(state, cursor=at(500))])
    assert cursor() == at(500)
    claim(store, runner, seconds=600)  # no cursor given: unchanged
    assert cursor() == at(500)


# -- lost runs ---------------------------------------------------------------------------------


def test_mark_lost_only_touches_running_runs_of_the_given_runners(
    store: Store, runner: int
) -> None:
    other = store.register_runner("host-b", 777, T0)
    gone_running = claim(store, runner, seconds=0)
    gone_finished = claim(store, runner, seconds=60)
    finish(store, gone_finished, 70)
    alive_running = claim(store, other, job="report")

    lost = store.mark_lost(at(100), runner_ids=[runner])

    assert [r.id for r in lost] == [gone_running]
    assert lost[0].status is Status.LOST
    assert lost[0].ended_at == at(100)
    assert lost[0].reason == f"runner gone (pid 4242 on {HOST})"
    assert store.get_run(gone_running) == lost[0]
    assert store.get_run(gone_finished).status is Status.SUCCEEDED  # type: ignore[union-attr]
    assert store.get_run(alive_running).status is Status.RUNNING  # type: ignore[union-attr]
    assert store.mark_lost(at(101), runner_ids=[]) == []

    everyone = store.mark_lost(at(200))
    assert [r.id for r in everyone] == [alive_running]
    assert everyone[0].reason == "runner gone (pid 777 on host-b)"
    assert store.running_runs() == []


def test_running_runs_oldest_first(store: Store, runner: int) -> None:
    a = claim(store, runner, seconds=0)
    b = claim(store, runner, job="report", seconds=1)
    done = claim(store, runner, job="sync", seconds=2)
    finish(store, done, 3)
    assert [r.id for r in store.running_runs()] == [a, b]


def test_leases_expire_runs_of_a_runner_that_stopped_renewing(store: Store, runner: int) -> None:
    other = store.register_runner("host-b", 777, T0)
    dead = claim(store, runner, lease_until=at(30))
    alive = claim(store, other, job="report", lease_until=at(30))
    no_lease = claim(store, runner, job="sync")  # a single-host runner holds none
    (batched,) = store.claim_runs(batch(other, ("backup", 60), lease_until=at(30)))
    assert batched is not None

    assert store.renew_leases(other, at(90)) == [alive, batched]
    assert store.mark_lost(at(40), expired_before=at(30)) == []  # not yet ended
    lost = store.mark_lost(at(60), expired_before=at(60))
    assert [r.id for r in lost] == [dead]
    assert lost[0].reason == f"runner gone (pid 4242 on {HOST})"
    assert store.get_run(no_lease).status is Status.RUNNING  # type: ignore[union-attr]
    assert store.renew_leases(runner, at(120)) == [no_lease]  # the lost run is not its any more
    # both filters at once
    assert store.mark_lost(at(200), runner_ids=[runner], expired_before=at(100)) == []
    assert [r.id for r in store.mark_lost(at(200), expired_before=at(100))] == [alive, batched]


# -- reading history ---------------------------------------------------------------------------


def test_runs_filters_and_newest_first(store: Store, runner: int) -> None:
    ids: dict[str, list[int]] = {"backup": [], "report": []}
    for i in range(6):
        for job in ids:
            run_id = claim(store, runner, job=job, seconds=i * 60)
            finish(store, run_id, i * 60 + 1, Status.FAILED if i % 2 else Status.SUCCEEDED)
            ids[job].append(run_id)

    assert [r.id for r in store.runs("backup", limit=100)] == ids["backup"][::-1]
    assert [r.id for r in store.runs("backup", limit=2)] == ids["backup"][:-3:-1]
    every = [r.id for r in store.runs(limit=100)]
    assert every == sorted(ids["backup"] + ids["report"], reverse=True)
    failed = store.runs("report", status=Status.FAILED)
    assert [r.id for r in failed] == [ids["report"][i] for i in (5, 3, 1)]
    assert all(r.status is Status.FAILED for r in store.runs(status=Status.FAILED))
    assert len(store.runs(status=Status.FAILED, limit=100)) == 6
    # since compares with the start (or the record time for a run that did not start)
    recent = store.runs("backup", since=at(4 * 60))
    assert [r.id for r in recent] == [ids["backup"][5], ids["backup"][4]]
    assert store.runs("nope") == []
    assert store.runs("backup", since=at(10**6)) == []


def test_since_does_not_assume_ids_follow_time(store: Store, runner: int) -> None:
    # the wall clock stepped back between two records: ids and times disagree
    late = claim(store, runner, seconds=100)
    early = store.record(
        job="backup",
        status=Status.MISSED,
        trigger=Trigger.SCHEDULE,
        scheduled_at=at(10),
        at=at(50),
        host=HOST,
        runner_id=runner,
    )
    later = claim(store, runner, seconds=200)
    assert early is not None
    assert [r.id for r in store.runs("backup", since=at(75))] == [later, late]
    assert [r.id for r in store.runs("backup", since=at(50))] == [later, early, late]
    assert [r.id for r in store.runs(since=at(75))] == [later, late]


# -- pruning -----------------------------------------------------------------------------------


def test_prune_by_count_returns_log_paths_and_spares_running(store: Store, runner: int) -> None:
    # the oldest record did not start: it has no log, so no path to return
    skipped = store.record(
        job="backup",
        status=Status.SKIPPED,
        trigger=Trigger.SCHEDULE,
        scheduled_at=at(-60),
        at=at(-60),
        host=HOST,
        runner_id=runner,
    )
    ids = []
    for i in range(10):
        ids.append(claim(store, runner, seconds=i * 60, log_path=f"/logs/{i}.log"))
        if i != 2:
            finish(store, ids[-1], i * 60 + 5)
    other = claim(store, runner, job="report", log_path="/logs/report.log")
    finish(store, other, 1)

    paths = store.prune("backup", keep_runs=3, older_than=None)

    assert sorted(paths) == sorted(f"/logs/{i}.log" for i in (0, 1, 3, 4, 5, 6))
    left = [r.id for r in store.runs("backup", limit=100)]
    assert left == [ids[9], ids[8], ids[7], ids[2]]  # 2 is still running
    assert skipped is not None and store.get_run(skipped) is None
    assert store.get_run(other) is not None
    assert store.prune("backup", keep_runs=3, older_than=None) == []


def test_prune_by_age(store: Store, runner: int) -> None:
    old = claim(store, runner, seconds=0, log_path="/logs/old.log")
    finish(store, old, 10)
    old_running = claim(store, runner, seconds=60, log_path="/logs/running.log")
    new = claim(store, runner, seconds=3600, log_path="/logs/new.log")
    finish(store, new, 3610)

    assert store.prune("backup", keep_runs=None, older_than=at(1800)) == ["/logs/old.log"]
    assert [r.id for r in store.runs("backup")] == [new, old_running]


def test_prune_never_deletes_the_last_run_status_shows(store: Store, runner: int) -> None:
    only = claim(store, runner, log_path="/logs/only.log")
    finish(store, only, 5)
    assert store.prune("backup", keep_runs=0, older_than=at(10**6)) == []
    assert store.get_run(only) is not None


def test_run_ids_are_not_reused_after_pruning(store: Store, runner: int) -> None:
    first = claim(store, runner, seconds=0)
    finish(store, first, 1)
    second = claim(store, runner, seconds=60)
    finish(store, second, 61)
    store.prune("backup", keep_runs=1, older_than=None)
    assert store.get_run(first) is None
    assert claim(store, runner, seconds=120) > second


# -- job states and pauses ---------------------------------------------------------------------


def test_job_states_upsert_and_read_back(store: Store) -> None:
    full = JobState(
        name="backup",
        first_seen=at(0),
        cursor=at(3600),
        next_run_at=at(7200),
        boot_id="b00t",
        retries=(RetryDue(at(3600), 2, at(3700)), RetryDue(at(3660), 3, at(3720))),
        schedule="0 3 * * *",
        timezone="Europe/Berlin",
        command="restic backup /home",
        present=True,
    )
    store.save_job_states([full, JobState(name="a-first", first_seen=at(5))])
    assert list(store.job_states()) == ["a-first", "backup"]
    # pending retries are their own rows (plan_retry), shared by runners, not a saved field
    assert store.job_state("backup") == replace(full, retries=())
    for retry in full.retries:
        store.plan_retry("backup", retry)
    assert store.job_state("backup") == full
    assert store.job_state("missing") is None

    moved = JobState(
        name="backup",
        first_seen=at(999),  # first_seen stays what it was: the cadence of `every` hangs on it
        cursor=at(7200),
        schedule="0 4 * * *",
        timezone="UTC",
        command="true",
        present=False,
    )
    store.save_job_states([moved])
    for retry in full.retries:
        store.drop_retry("backup", retry.scheduled_at)
    state = store.job_state("backup")
    assert state is not None
    assert state.first_seen == at(0)
    assert (state.cursor, state.next_run_at, state.retries, state.boot_id) == (
        at(7200),
        None,
        (),
        None,
    )
    assert (state.schedule, state.timezone, state.command, state.present) == (
        "0 4 * * *",
        "UTC",
        "true",
        False,
    )


def test_a_job_page_is_the_first_present_jobs_by_name_and_says_if_more(store: Store) -> None:
    store.save_job_states(
        [JobState(name=f"job-{i}", first_seen=at(0), present=i != 2) for i in (5, 1, 2, 4, 3)]
        + [JobState(name="B-upper", first_seen=at(0))]  # code point order: before "job-"
    )
    page, more = store.job_page(3)
    assert ([s.name for s in page], more) == (["B-upper", "job-1", "job-3"], True)
    assert page[1] == store.job_state("job-1")
    page, more = store.job_page(5)  # job-2 left the job file: five are present
    assert ([s.name for s in page], more) == (
        ["B-upper", "job-1", "job-3", "job-4", "job-5"],
        False,
    )
    assert store.job_page(100) == (page, False)


def test_saving_job_states_keeps_pauses_and_counters(store: Store, runner: int) -> None:
    run_id = claim(store, runner)
    store.set_paused(["backup"], True, at(7200))
    stale = JobState(name="backup", first_seen=T0, cursor=at(60), paused=False, run_count=0)
    store.save_job_states([stale])
    state = store.job_state("backup")
    assert state is not None
    assert (state.paused, state.paused_until) == (True, at(7200))
    assert (state.run_count, state.last_run_id, state.cursor) == (1, run_id, at(60))


def test_set_paused_until_and_resume(store: Store, runner: int) -> None:
    store.set_paused(["backup", "report"], True, None)
    states = store.job_states()
    assert (states["backup"].paused, states["backup"].paused_until) == (True, None)
    assert states["report"].paused and not states["sync"].paused
    store.set_paused(["report"], True, at(3600))
    assert store.job_state("report").paused_until == at(3600)  # type: ignore[union-attr]
    store.set_paused(["backup", "report"], False, at(3600))
    for name in ("backup", "report"):
        state = store.job_state(name)
        assert state is not None
        assert (state.paused, state.paused_until) == (False, None)


def test_pausing_an_unknown_job_changes_nothing(store: Store, runner: int) -> None:
    with pytest.raises(UsageError, match="'ghost'"):
        store.set_paused(["backup", "ghost"], True, None)
    assert store.job_state("backup").paused is False  # type: ignore[union-attr]


# -- runners and controls ----------------------------------------------------------------------


def test_runner_register_heartbeat_unregister(store: Store) -> None:
    a = store.register_runner("host-a", 100, at(0))
    b = store.register_runner("host-b", 200, at(1))
    store.heartbeat(a, at(30), note="degraded: disk full, 3 writes pending")
    live = store.live_runners()
    assert [(r.id, r.host, r.pid) for r in live] == [(a, "host-a", 100), (b, "host-b", 200)]
    assert (live[0].started_at, live[0].heartbeat_at) == (at(0), at(30))
    assert live[0].note == "degraded: disk full, 3 writes pending"
    assert live[1].heartbeat_at == at(1) and live[1].stopped_at is None
    store.heartbeat(a, at(60))
    assert store.live_runners()[0].note is None
    store.unregister_runner(a, at(90))
    assert [r.id for r in store.live_runners()] == [b]


def test_controls_lifecycle(store: Store) -> None:
    trigger = store.push_control(ControlKind.TRIGGER, at(0), job="backup")
    cancel = store.push_control(ControlKind.CANCEL, at(1), run_id=7)
    reload = store.push_control(ControlKind.RELOAD, at(2))
    assert [(c.id, c.kind) for c in store.pending_controls()] == [
        (trigger, ControlKind.TRIGGER),
        (cancel, ControlKind.CANCEL),
        (reload, ControlKind.RELOAD),
    ]
    store.complete_control(trigger, at(3), run_id=42, result="started")
    store.complete_control(cancel, at(4), result="not running")
    assert [c.id for c in store.pending_controls()] == [reload]
    done = store.get_control(trigger)
    assert done is not None
    assert (done.job, done.run_id, done.taken_at, done.result, done.requested_at) == (
        "backup",
        42,
        at(3),
        "started",
        at(0),
    )
    kept = store.get_control(cancel)
    assert kept is not None
    assert kept.run_id == 7  # completing without a run id keeps the one asked about
    assert store.get_control(999) is None


def test_taken_controls_are_no_longer_pending_until_answered(store: Store) -> None:
    first = store.push_control(ControlKind.TRIGGER, at(0), job="backup")
    second = store.push_control(ControlKind.RELOAD, at(1))
    taken = store.take_controls(1, at(2))
    assert [(c.id, c.kind, c.job) for c in taken] == [
        (first, ControlKind.TRIGGER, "backup"),
        (second, ControlKind.RELOAD, None),
    ]
    assert store.pending_controls() == [] and store.take_controls(2, at(3)) == []
    # taken but not answered: the command waiting on it still waits
    assert store.get_control(first).taken_at is None  # type: ignore[union-attr]
    store.complete_control(first, at(4), run_id=9, result="started")
    done = store.get_control(first)
    assert done is not None and (done.taken_at, done.run_id) == (at(4), 9)
    later = store.push_control(ControlKind.WAKE, at(5))
    assert [c.id for c in store.take_controls(2, at(6))] == [later]


def test_concurrent_takers_each_get_a_control_exactly_once(backend: Opener) -> None:
    stores = [backend() for _ in range(4)]
    pushed = [stores[0].push_control(ControlKind.TRIGGER, at(i), job="backup") for i in range(40)]

    def take_all(n: int) -> list[int]:
        got: list[Control] = []
        for _ in range(20):  # take repeatedly while the others do too
            got += stores[n].take_controls(n + 1, at(100))
        return [c.id for c in got]

    taken = _race([lambda n=n: take_all(n) for n in range(4)])  # type: ignore[misc]
    every = [i for ids in taken for i in ids]  # type: ignore[attr-defined]
    assert sorted(every) == pushed  # each one taken, by one taker only


# -- time --------------------------------------------------------------------------------------

CLOCK_READS = {"now", "utcnow", "today", "time", "time_ns", "monotonic", "monotonic_ns"}


def test_no_store_reads_the_clock() -> None:
    # Stores are handed every timestamp (DESIGN: the runner's clock is injected), so a fake
    # clock governs what they write too.
    package = Path(cronpy.store.__file__).parent
    reads = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                if name in CLOCK_READS:
                    reads.append(f"{path.relative_to(package)}:{node.lineno}: {name}()")
    assert reads == []


# -- many runners ------------------------------------------------------------------------------


def test_runners_register_with_their_job_file_and_version(store: Store) -> None:
    first = store.register_runner("host-a", 10, at(0), file_hash="abc123", version="0.1.0")
    second = store.register_runner("host-b", 20, at(1))
    runners = {r.id: r for r in store.live_runners()}
    assert (runners[first].file_hash, runners[first].version) == ("abc123", "0.1.0")
    assert (runners[second].file_hash, runners[second].version) == (None, None)


def test_controls_since_shows_answered_ones_too_for_runners_that_missed_them(
    store: Store,
) -> None:
    assert store.last_control_id() == 0
    reload = store.push_control(ControlKind.RELOAD, at(0))
    wake = store.push_control(ControlKind.WAKE, at(1))
    assert store.last_control_id() == wake
    store.complete_control(reload, at(2), result="reloaded: 3 jobs")
    assert [c.id for c in store.controls_since(0)] == [reload, wake]
    assert [c.id for c in store.controls_since(reload)] == [wake]
    assert store.controls_since(wake) == []
    assert [c.id for c in store.pending_controls()] == [wake]


def test_mark_lost_can_name_the_runs(store: Store, runner: int) -> None:
    first = store.claim_run(
        job="backup", scheduled_at=at(0), trigger=Trigger.SCHEDULE, attempt=1,
        started_at=at(0), host=HOST, runner_id=runner,
    )  # fmt: skip
    second = store.claim_run(
        job="report", scheduled_at=at(0), trigger=Trigger.SCHEDULE, attempt=1,
        started_at=at(0), host=HOST, runner_id=runner,
    )  # fmt: skip
    assert second is not None
    assert [r.id for r in store.mark_lost(at(5), run_ids=[second])] == [second]
    assert store.mark_lost(at(6), run_ids=[]) == []
    assert [r.id for r in store.running_runs()] == [first]


def test_import_runs_copies_history_once(backend: Opener, tmp_path: Path) -> None:
    from cronpy.store.sqlite import SqliteStore

    source = SqliteStore(tmp_path / "source.db")
    source.save_job_states([JobState(name="backup", first_seen=T0)])
    runner = source.register_runner(HOST, 1, T0)
    run_id = source.claim_run(
        job="backup", scheduled_at=at(60), trigger=Trigger.SCHEDULE, attempt=1,
        started_at=at(61), host=HOST, runner_id=runner,
    )  # fmt: skip
    assert run_id is not None
    source.finish_run(run_id, Finish(Status.FAILED, at(62), exit_code=3, output_tail="oops\n"))
    source.record(
        job="backup", status=Status.MISSED, trigger=Trigger.SCHEDULE, scheduled_at=at(120),
        at=at(130), host=HOST, runner_id=runner, reason="runner was down", missed_count=4,
    )  # fmt: skip
    history = source.runs("backup", limit=100)
    target = backend()
    target.save_job_states([JobState(name="backup", first_seen=T0)])
    assert target.import_runs(history) == 2
    assert target.import_runs(history) == 0  # a second copy adds nothing
    copied = {r.scheduled_at: r for r in target.runs("backup", limit=100)}
    assert copied[at(60)].exit_code == 3 and copied[at(60)].output_tail == "oops\n"
    assert copied[at(60)].status is Status.FAILED and copied[at(60)].ended_at == at(62)
    assert copied[at(120)].missed_count == 4 and copied[at(120)].reason == "runner was down"
    source.close()


def test_a_claim_past_max_runs_is_refused_whoever_claims(backend: Opener) -> None:
    a, b = backend(), backend()  # two runners on one store
    a.save_job_states([JobState(name="backup", first_seen=T0)])
    ra, rb = a.register_runner("a", 1, T0), b.register_runner("b", 2, T0)

    def claim(store: Store, runner: int, n: int) -> int | None:
        return store.claim_runs(
            [Claim("backup", at(n), Trigger.SCHEDULE, 1, at(n), HOST, runner, max_runs=2)]
        )[0]

    assert claim(a, ra, 0) is not None
    assert claim(b, rb, 1) is not None  # the second start, on the other runner
    assert claim(a, ra, 2) is None  # max_runs reached, whoever counted the first two
    assert claim(b, rb, 3) is None
    state = a.job_state("backup")
    assert state is not None and state.run_count == 2
    # without max_runs (a trigger), the claim is not refused
    assert a.claim_runs([Claim("backup", at(4), Trigger.MANUAL, 1, at(4), HOST, ra)])[0]


def test_an_exclusive_claim_is_skipped_while_another_runner_runs_the_job(backend: Opener) -> None:
    a, b = backend(), backend()
    a.save_job_states([JobState(name="backup", first_seen=T0)])
    ra, rb = a.register_runner("a", 1, T0), b.register_runner("b", 2, T0)
    first = a.claim_runs([Claim("backup", at(0), Trigger.SCHEDULE, 1, at(0), "a", ra)])[0]
    assert first is not None  # runner a runs it now
    skipped = b.claim_runs(
        [Claim("backup", at(60), Trigger.SCHEDULE, 1, at(60), "b", rb, exclusive=True)]
    )
    assert skipped == [None]
    (record,) = [r for r in b.runs("backup", limit=10) if r.scheduled_at == at(60)]
    assert record.status is Status.SKIPPED and "another runner" in (record.reason or "")
    # the runner that holds the run is not kept out by its own run (it decides that itself)
    own = a.claim_runs(
        [Claim("backup", at(120), Trigger.SCHEDULE, 1, at(120), "a", ra, exclusive=True)]
    )
    assert own[0] is not None
    a.finish_run(first, Finish(Status.SUCCEEDED, at(1)))
    a.finish_run(own[0], Finish(Status.SUCCEEDED, at(121)))
    free = b.claim_runs(
        [Claim("backup", at(180), Trigger.SCHEDULE, 1, at(180), "b", rb, exclusive=True)]
    )
    assert free[0] is not None  # nothing runs elsewhere: claimed
    state = a.job_state("backup")
    assert state is not None and state.run_count == 3  # the skipped one is not a start
