"""systemd's notify protocol (Type=notify): READY, STATUS, RELOADING, STOPPING, WATCHDOG
datagrams."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterable
from datetime import datetime

from cronpy.model import JobState


def sd_notify(message: str) -> None:
    """Tell systemd (Type=notify) where NOTIFY_SOCKET is set; a no-op elsewhere."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock, contextlib.suppress(OSError):
        sock.sendto(message.encode(), address)


def watchdog_interval() -> float | None:
    """Half of systemd's WatchdogSec (WATCHDOG_USEC), the interval to ping at; None if unset."""
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec or not usec.isdigit():
        return None
    return int(usec) / 2e6


def notifying() -> bool:
    """Whether anyone listens (NOTIFY_SOCKET set): work done only for systemd can be skipped."""
    return bool(os.environ.get("NOTIFY_SOCKET"))


def reloading() -> None:
    """RELOADING=1 with the monotonic time systemd asks for (Type=notify-reload requires it)."""
    sd_notify(f"RELOADING=1\nMONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")


def running_status(states: Iterable[JobState], jobs: int) -> str:
    """``STATUS=`` for ``systemctl status``: how many jobs, and which one is due next."""
    due: tuple[datetime, str] | None = None
    for state in states:
        at = state.next_run_at
        if at is not None and state.present and (due is None or at < due[0]):
            due = (at, state.name)
    text = f"STATUS=running {jobs} jobs"
    if due is not None:
        text += f"; next: {due[1]} at {due[0].isoformat(timespec='seconds')}"
    return text
