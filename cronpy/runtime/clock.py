"""Time as an injectable dependency: wall time, monotonic time and sleeping.

The runner never calls ``time`` or ``datetime.now`` directly; tests hand it a
``FakeClock`` and make hours pass in microseconds.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

# Seconds late out of a sleep, or spent in one step that takes milliseconds (starting a
# process), that count as a stall (SIGSTOP, starvation) rather than jitter.
STALL_AFTER = 2.0


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def boottime(self) -> float:
        return time.clock_gettime(time.CLOCK_BOOTTIME)


class FakeClock:
    """A clock tests move by hand.

    ``advance`` lets time pass normally; ``jump_wall`` steps only the wall clock (NTP, ``date -s``);
    ``suspend`` is a machine asleep: wall and boot time move, monotonic time does not.
    """

    def __init__(self, start: datetime, monotonic: float = 1000.0) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._wall = start.astimezone(UTC)
        self._mono = monotonic
        self._boot = monotonic

    def now(self) -> datetime:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    def boottime(self) -> float:
        return self._boot

    def advance(self, seconds: float) -> None:
        self._wall += timedelta(seconds=seconds)
        self._mono += seconds
        self._boot += seconds

    def suspend(self, seconds: float) -> None:
        self._wall += timedelta(seconds=seconds)
        self._boot += seconds

    def jump_wall(self, seconds: float) -> None:
        """A wall-clock step (NTP, manual date change) with no monotonic time passing."""
        self._wall += timedelta(seconds=seconds)

    def set(self, when: datetime) -> None:
        """Advance both clocks to ``when`` (must not be in the past)."""
        delta = (when.astimezone(UTC) - self._wall).total_seconds()
        if delta < 0:
            raise ValueError("FakeClock.set cannot go backwards; use jump_wall")
        self.advance(delta)
