"""State writes that survive a store refusing them (disk full, database locked).

The runner must not stop scheduling because a record cannot be written: a refused write is
kept, in order, with every later one queued behind it (a finish must not land before its own
claim's pid), and the whole queue is replayed when the store takes writes again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from cronpy.errors import RecordGoneError, StateError

RETRY_EVERY = timedelta(seconds=5)


class WriteBacklog:
    def __init__(
        self,
        now: Callable[[], datetime],
        log: Callable[..., None],
        on_change: Callable[[str | None], None],
    ) -> None:
        self._now = now
        self._log = log
        self._on_change = on_change
        self._queue: deque[tuple[str, Callable[[], Any]]] = deque()
        self.retry_at: datetime | None = None
        self.degraded: str | None = None  # what is wrong, in words; None when healthy

    def __bool__(self) -> bool:
        return bool(self._queue)

    def write(self, what: str, write: Callable[[], Any]) -> None:
        """Write now or, once the store has refused a write, queue behind it."""
        if not self._queue:
            try:
                write()
                return
            except RecordGoneError as exc:
                self._log("write-dropped", write=what, reason=str(exc))
                return
            except StateError as exc:
                self.failed(what, exc)
        self._queue.append((what, write))

    def failed(self, what: str, exc: StateError) -> None:
        """The store refused ``what``: say so, once per distinct problem, and retry later."""
        self.retry_at = self._now() + RETRY_EVERY
        note = f"state writes failing ({what}: {exc}); retrying every {RETRY_EVERY.seconds}s"
        if note != self.degraded:
            self.degraded = note
            self._log("degraded", write=what, reason=str(exc), pending=len(self._queue) + 1)
            self._on_change(note)

    def due(self, now: datetime) -> bool:
        return bool(self._queue) and (self.retry_at is None or self.retry_at <= now)

    def replay(self) -> None:
        while self._queue:
            what, write = self._queue[0]
            try:
                write()
            except RecordGoneError as exc:  # retrying cannot bring it back
                self._log("write-dropped", write=what, reason=str(exc))
            except StateError as exc:
                self.failed(what, exc)
                return
            self._queue.popleft()
        self.retry_at = None
        if self.degraded is not None:
            self.degraded = None
            self._log("recovered")
            self._on_change(None)
