"""The runner's store upkeep: on a schedule that busy periods cannot postpone forever, and a
failure that is logged, never raised (a full disk used to stop the runner here)."""

from __future__ import annotations

from typing import Any

from cronpy.errors import StateError
from cronpy.runtime.maintenance import Maintenance


class Store:
    def __init__(self) -> None:
        self.calls = 0
        self.fail: str | None = None

    def maintain(self) -> None:
        self.calls += 1
        if self.fail:
            raise StateError(self.fail)


def test_busy_runner_still_checkpoints_and_a_failing_checkpoint_is_logged_once() -> None:
    store, events = Store(), []

    def log(event: str, **fields: Any) -> None:
        events.append(event)

    upkeep = Maintenance(store, log, start=0.0, interval=30.0)  # type: ignore[arg-type]
    assert not upkeep.run_if_due(29.0, None)
    assert not upkeep.run_if_due(31.0, 0.1)  # due, but the next job is 0.1 s away: wait
    assert upkeep.run_if_due(31.5, 0.9) and store.calls == 1  # the first gap
    # always busy: it runs anyway once it is a whole interval late
    assert not upkeep.run_if_due(62.0, 0.0)
    assert upkeep.run_if_due(92.0, 0.0) and store.calls == 2
    store.fail = "state database x: database or disk is full"
    for t in (122.0, 152.0, 182.0):
        assert upkeep.run_if_due(t, None)  # no exception out of the loop
    assert events == ["checkpoint-failed"]
    store.fail = None
    assert upkeep.run_if_due(212.0, None)
    assert events == ["checkpoint-failed", "checkpoint-recovered"]
