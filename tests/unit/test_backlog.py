"""The queue of writes a store refused: kept in order, replayed, and a write about a record
the store no longer has dropped instead of blocking every write behind it."""

from __future__ import annotations

from datetime import UTC, datetime

from cronpy.errors import RecordGoneError, StateError
from cronpy.runtime.backlog import WriteBacklog

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def test_refused_writes_replay_in_order_and_a_gone_record_is_dropped() -> None:
    events: list[tuple[str, dict[str, object]]] = []
    done: list[str] = []
    down = True

    def write(name: str, gone: bool = False) -> None:
        if down:
            raise StateError("disk is full")
        if gone:
            raise RecordGoneError("no run 1 to finish")
        done.append(name)

    backlog = WriteBacklog(lambda: NOW, lambda e, **f: events.append((e, f)), lambda n: None)
    backlog.write("claim", lambda: write("claim"))
    backlog.write("finish", lambda: write("finish", gone=True))
    backlog.write("states", lambda: write("states"))
    assert bool(backlog) and done == []
    down = False
    backlog.replay()
    assert done == ["claim", "states"]  # in order, the gone one dropped, not retried forever
    assert not backlog and backlog.degraded is None
    assert [e for e, _ in events] == ["degraded", "write-dropped", "recovered"]
