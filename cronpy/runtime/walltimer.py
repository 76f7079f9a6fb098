"""A wake-up at a wall-clock instant that survives suspend and clock steps (Linux timerfd).

``select`` timeouts run on the monotonic clock, which stops while the machine sleeps and ignores
``date -s``: a runner sleeping 5 h until 03:00 that is suspended for 8 h would wake hours late,
and one whose clock is stepped forward over 03:00 would fire late by the step. A CLOCK_REALTIME
timerfd armed with TFD_TIMER_ABSTIME fires at the wall instant itself, and with
TFD_TIMER_CANCEL_ON_SET it also wakes us whenever the wall clock is set, so we replan at once.
This is what systemd does for its calendar timers. Python 3.11 has no ``os.timerfd_create``, so
we call libc through ctypes; where that is unavailable the caller falls back to timeouts.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from datetime import datetime

_CLOCK_REALTIME = 0
_TFD_NONBLOCK = os.O_NONBLOCK
_TFD_CLOEXEC = os.O_CLOEXEC
_TFD_TIMER_ABSTIME = 1
_TFD_TIMER_CANCEL_ON_SET = 2


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class WallTimer:
    """One armed instant at a time; readable when it passes or when the clock is set."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self._settime = libc.timerfd_settime
        self._settime.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.POINTER(_Itimerspec),
            ctypes.c_void_p,
        ]
        fd = libc.timerfd_create(_CLOCK_REALTIME, _TFD_NONBLOCK | _TFD_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self._fd: int = fd
        self.armed: datetime | None = None

    def fileno(self) -> int:
        return self._fd

    def arm(self, when: datetime | None) -> None:
        """Fire at ``when`` (aware); None disarms. Re-arming the same instant is free."""
        if when == self.armed:
            return
        spec = _Itimerspec()
        if when is not None:
            sec, frac = divmod(when.timestamp(), 1.0)
            spec.it_value.tv_sec = int(sec)
            spec.it_value.tv_nsec = max(1, int(frac * 1e9)) if sec <= 0 else int(frac * 1e9)
        flags = _TFD_TIMER_ABSTIME | _TFD_TIMER_CANCEL_ON_SET
        if self._settime(self._fd, flags, ctypes.byref(spec), None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")
        self.armed = when

    def consume(self) -> bool:
        """Acknowledge a wake-up. True when the wall clock was set (replan everything)."""
        try:
            os.read(self._fd, 8)
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno == errno.ECANCELED:
                self.armed = None  # the kernel disarmed it; arm again
                return True
            raise
        self.armed = None
        return False

    def close(self) -> None:
        os.close(self._fd)


def make_wall_timer() -> WallTimer | None:
    try:
        return WallTimer()
    except (OSError, AttributeError):
        return None
