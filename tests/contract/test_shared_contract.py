"""The Store contract for what runners share beyond runs (DESIGN §9): pending retries as rows
any runner may start, and the `after` count of a job with several upstream jobs. Run against
every backend (conftest.py); several stores open on one database stand for several runners."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cronpy.interfaces import Store
from cronpy.model import JobState, RetryDue

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
Opener = Callable[[], Store]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def retry(occurrence: float, attempt: int, due: float) -> RetryDue:
    return RetryDue(at(occurrence), attempt, at(due))


def test_a_planned_retry_is_seen_by_another_store_and_in_job_states(backend: Opener) -> None:
    planner, other = backend(), backend()
    planner.save_job_states([JobState(name=n, first_seen=T0) for n in ("backup", "sync")])
    planner.plan_retry("backup", retry(60, 2, 90))
    planner.plan_retry("backup", retry(0, 3, 120))
    planner.plan_retry("sync", retry(0, 2, 30))
    assert other.pending_retries() == {
        "backup": (retry(0, 3, 120), retry(60, 2, 90)),  # oldest occurrence first
        "sync": (retry(0, 2, 30),),
    }
    assert other.job_states()["backup"].retries == (retry(0, 3, 120), retry(60, 2, 90))
    assert other.job_state("sync").retries == (retry(0, 2, 30),)  # type: ignore[union-attr]


def test_a_runner_saving_its_stale_state_does_not_undo_a_planned_retry(backend: Opener) -> None:
    planner, stale = backend(), backend()
    planner.save_job_states([JobState(name="backup", first_seen=T0)])
    planner.plan_retry("backup", retry(0, 2, 30))
    # the other runner's memory never heard of it, and saves the job (last writer)
    stale.save_job_states([JobState(name="backup", first_seen=T0, cursor=at(5))])
    assert planner.job_states()["backup"].retries == (retry(0, 2, 30),)
    assert stale.pending_retries() == {"backup": (retry(0, 2, 30),)}


def test_a_later_attempt_replaces_an_earlier_one_never_the_reverse(store: Store) -> None:
    store.plan_retry("backup", retry(0, 3, 120))
    store.plan_retry("backup", retry(0, 2, 30))  # a late write of an older plan
    assert store.pending_retries() == {"backup": (retry(0, 3, 120),)}
    store.plan_retry("backup", retry(0, 4, 300))
    assert store.pending_retries() == {"backup": (retry(0, 4, 300),)}


def test_dropping_a_claimed_attempt_keeps_a_later_one(store: Store) -> None:
    store.plan_retry("backup", retry(0, 3, 120))
    store.plan_retry("backup", retry(60, 2, 90))
    store.drop_retry("backup", at(0), 2)  # attempt 2 was claimed; 3 was planned since
    assert store.pending_retries()["backup"] == (retry(0, 3, 120), retry(60, 2, 90))
    store.drop_retry("backup", at(0), 3)
    assert store.pending_retries()["backup"] == (retry(60, 2, 90),)
    store.drop_retry("backup", at(60))  # given up: whatever the attempt
    store.drop_retry("backup", at(60))  # twice is harmless
    assert store.pending_retries() == {}


def test_upstream_successes_start_the_job_once_per_complete_set(backend: Opener) -> None:
    x, y = backend(), backend()
    needed = ("a", "b", "c")
    assert x.upstream_succeeded("child", "a", needed) == ["b", "c"]
    assert y.upstream_succeeded("child", "a", needed) == ["b", "c"]  # a again: still one
    assert y.upstream_succeeded("child", "c", needed) == ["b"]
    assert x.upstream_succeeded("other", "b", ("b", "z")) == ["z"]  # counted per job
    assert x.upstream_succeeded("child", "b", needed) == []  # complete: x starts it
    # the set was cleared with that answer: the next round starts from nothing
    assert y.upstream_succeeded("child", "b", needed) == ["a", "c"]
    assert x.upstream_succeeded("other", "z", ("b", "z")) == []


def test_two_runners_completing_the_set_at_once_start_the_job_once(backend: Opener) -> None:
    stores = [backend(), backend()]
    rounds = 40
    answers: list[list[list[str]]] = [[], []]
    barrier = threading.Barrier(2)

    def runner(i: int, upstream: str) -> None:
        for _ in range(rounds):
            barrier.wait()
            answers[i].append(stores[i].upstream_succeeded("child", upstream, ("a", "b")))

    threads = [threading.Thread(target=runner, args=(i, u)) for i, u in enumerate("ab")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # both parents succeed each round, each seen by one runner: the job starts once a round
    # (a miss in one round and a double start in another must not cancel out)
    per_round = [(ax == []) + (ay == []) for ax, ay in zip(*answers, strict=True)]
    assert per_round == [1] * rounds, answers
