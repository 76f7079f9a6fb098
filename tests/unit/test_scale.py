"""What keeps 100,000 jobs cheap to start, without changing what the runner decides: a restart
writes only the job states that changed, and equal values are shared between jobs."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cronpy.model import JobState
from tests.harness import Harness, utc

JOBS = """
[jobs.a]
schedule = "0 3 * * *"
command = "true"

[jobs.b]
schedule = "H H * * *"
command = "true"

[jobs.c]
schedule = "every 6h"
command = "true"
"""


def _spy_saves(h: Harness) -> list[list[str]]:
    """The names in each save_job_states call from now on."""
    writes: list[list[str]] = []
    inner = h.store._store
    real = inner.save_job_states

    def save(states: Iterable[JobState]) -> None:
        states = list(states)
        writes.append([s.name for s in states])
        real(states)

    inner.save_job_states = save  # type: ignore[method-assign]
    return writes


def test_a_restart_writes_only_the_job_states_that_changed(tmp_path: Path) -> None:
    h = Harness(tmp_path, JOBS, utc("2026-05-01T05:00:00Z"))
    h.run_for(60)
    before = h.store.job_states()
    writes = _spy_saves(h)

    h.crash_and_restart(utc("2026-05-01T05:10:00Z"))
    assert [w for w in writes if w] == []  # nothing fell due, nothing changed: no write
    assert h.store.job_states() == before
    assert h.core.next_wakeup() == min(s.next_run_at for s in before.values() if s.next_run_at)

    changed = JOBS.replace('"0 3 * * *"', '"0 4 * * *"')
    h.crash_and_restart(utc("2026-05-01T05:20:00Z"), toml=changed)
    assert [w for w in writes if w] == [["a"]]
    after = h.store.job_states()
    assert after["a"].schedule == "0 4 * * *"
    assert after["a"].next_run_at == utc("2026-05-02T04:00:00Z")
    assert after["b"] == before["b"] and after["c"] == before["c"]


def test_a_state_changed_after_the_restart_is_still_written(tmp_path: Path) -> None:
    h = Harness(tmp_path, JOBS, utc("2026-05-01T02:00:00Z"))
    h.crash_and_restart(utc("2026-05-01T02:30:00Z"))
    writes = _spy_saves(h)
    h.run_until(utc("2026-05-01T03:00:30Z"))  # job a runs at 03:00
    assert ["a"] in writes
    assert h.statuses("a") == ["succeeded"]
    assert h.store.job_states()["a"].next_run_at == utc("2026-05-02T03:00:00Z")
