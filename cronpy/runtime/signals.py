"""Signals as flags the loop acts on: handlers only set a flag, and the wake-up fd interrupts
the loop's select (as huey and supervisor do)."""

from __future__ import annotations

import selectors
import signal
import socket
from collections.abc import Callable


class Signals:
    def __init__(self, selector: selectors.BaseSelector, on_child: Callable[[], None]) -> None:
        self.selector = selector
        self.on_child = on_child  # SIGCHLD: leftovers of killed groups get reaped
        self.stop_requested = False
        self.force_requested = False  # a second SIGTERM/SIGINT: do not wait out the grace
        self.reload_requested = False
        self.reopen_requested = False

    def install(self) -> None:
        self._sig_r, self._sig_w = socket.socketpair()
        for sock in (self._sig_r, self._sig_w):
            sock.setblocking(False)
        signal.set_wakeup_fd(self._sig_w.fileno(), warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)
        signal.signal(signal.SIGUSR1, self._on_usr1)
        # a handler (not SIG_DFL) so the wake-up fd fires: leftovers of killed groups get reaped
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        self.selector.register(self._sig_r, selectors.EVENT_READ, self._drain_signals)

    def _on_stop(self, signum: int, frame: object) -> None:
        # as systemd and supervisord do: the second request means "now"
        if self.stop_requested:
            self.force_requested = True
        self.stop_requested = True

    def _on_hup(self, signum: int, frame: object) -> None:
        self.reload_requested = True

    def _on_usr1(self, signum: int, frame: object) -> None:
        self.reopen_requested = True

    def _drain_signals(self, mask: int) -> None:
        try:
            while self._sig_r.recv(4096):
                pass
        except BlockingIOError:
            pass
        self.on_child()
