"""The runner's side of a shared store (PostgreSQL): its NOTIFY listener on the selector, and
the heartbeat that renews leases and sweeps dead runners' runs (``Scheduler.heartbeat``)."""

from __future__ import annotations

import contextlib
import selectors
from collections.abc import Callable

from cronpy.errors import StateError
from cronpy.interfaces import Listener, Store
from cronpy.runtime.fleet import HEARTBEAT
from cronpy.runtime.scheduler import Scheduler


class PeerLink:
    def __init__(
        self,
        store: Store,
        selector: selectors.BaseSelector,
        scheduler: Scheduler,
        log: Callable[..., None],
    ) -> None:
        self.store = store
        self.selector = selector
        self.scheduler = scheduler
        self.log = log
        self.next_beat: float | None = None  # monotonic: when the heartbeat is due
        self.listener: Listener | None = None
        self._listen()

    def beat_if_due(self, mono: float) -> None:
        if self.next_beat is None or mono >= self.next_beat:
            self.next_beat = mono + HEARTBEAT
            self.scheduler.heartbeat()
            if self.listener is None:
                self._listen()

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()

    def _on_notify(self, mask: int) -> None:
        """A command pushed a control into the shared store (PostgreSQL NOTIFY)."""
        try:
            if self.listener is not None and self.listener.drain():
                self.scheduler.controls_arrived()
        except StateError as exc:  # the server went away: the heartbeat notices and retries
            self.log("listen-failed", reason=str(exc))
            self._listen()

    def _listen(self) -> None:
        if self.listener is not None:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.selector.unregister(self.listener)
            self.listener.close()
            self.listener = None
        try:
            self.listener = self.store.listen()
        except StateError:
            return  # tried again at the next heartbeat
        if self.listener is not None:
            self.selector.register(self.listener, selectors.EVENT_READ, self._on_notify)
            self.scheduler.controls_arrived()  # what was pushed while deaf
