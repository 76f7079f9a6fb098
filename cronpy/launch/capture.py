"""A child's output: the tail kept for its record, and a run's log file capped to head and tail.

A hook keeps only the tail (``OutputTail``); a job's run also writes its log (``LogCapture``).
Memory never grows with the amount of output: both keep bounded buffers.
"""

from __future__ import annotations

import os
from pathlib import Path

from cronpy.launch.env import describe

TAIL_BYTES = 4096  # of output kept for the record ...
TAIL_LINES = 20  # ... of which at most this many lines


class OutputTail:
    """The last lines of a child's output (at most TAIL_LINES lines, TAIL_BYTES bytes)."""

    def __init__(self) -> None:
        self._last = b""  # the last TAIL_BYTES + 1 bytes
        self.total = 0
        self.error: str | None = None  # why output could not be kept, for the record's reason
        self.peak_buffered = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        keep = TAIL_BYTES + 1
        self._last = data[-keep:] if len(data) >= keep else (self._last + data)[-keep:]

    def tail_text(self) -> str:
        last = self._last
        if self.total > len(last):
            # The buffer starts mid-line: drop that fragment (the extra byte kept makes a
            # cut exactly after a newline lose nothing).
            cut = last.find(b"\n")
            last = last[cut + 1 :] if cut >= 0 else last[1:]
        lines = last.splitlines(keepends=True)[-TAIL_LINES:]
        return b"".join(lines).decode("utf-8", errors="replace")

    def finish(self) -> None:
        """The child has ended and its pipe is drained: nothing more will be fed."""


class LogCapture(OutputTail):
    """Writes a run's output to its log, keeping at most ``cap`` bytes: the head and the tail.

    The head goes to the file as it arrives, so a follower sees it live; the tail waits
    in a ring of at most ``cap - cap // 2`` bytes until the run ends, so memory never
    grows with the amount of output.

    The file is created (new, mode 0600) by the first write or at the end, not at start:
    creating a file costs more than a fork here, and a burst of 200 due jobs should not
    wait for 200 file creations before the last one starts. A log that cannot be created
    does not stop the job; ``error`` says why and the history keeps the output's tail.
    """

    def __init__(self, path: Path, cap: int) -> None:
        super().__init__()
        self._path = path
        self._fd: int | None = None
        self._opened = False
        self._head_left = cap // 2
        self._tail_cap = cap - cap // 2
        self._ring = bytearray()
        self.omitted = 0

    def feed(self, data: bytes) -> None:
        super().feed(data)
        if self._head_left:
            head = data[: self._head_left]
            self._write(head)
            self._head_left -= len(head)
            data = data[len(head) :]
        if not data:
            return
        if len(data) >= self._tail_cap:
            self.omitted += len(self._ring) + len(data) - self._tail_cap
            self._ring[:] = data[len(data) - self._tail_cap :]
        else:
            self._ring += data
            excess = len(self._ring) - self._tail_cap
            if excess > 0:
                del self._ring[:excess]  # cheap: bytearray moves its start, not its bytes
                self.omitted += excess
        self.peak_buffered = max(self.peak_buffered, len(self._ring))

    def _open(self) -> None:
        self._opened = True
        try:
            self._fd = os.open(
                self._path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600
            )
        except OSError as e:
            self.error = f"log file {self._path}: {describe(e)}"

    def finish(self) -> None:
        if not self._opened:
            self._open()
        if self.omitted:
            self._write(f"\n[cronpy: {self.omitted} bytes omitted]\n".encode())
        self._write(bytes(self._ring))
        self._ring = bytearray()
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _write(self, data: bytes) -> None:
        if not self._opened:
            self._open()
        view = memoryview(data)
        while view and self._fd is not None:
            try:
                view = view[os.write(self._fd, view) :]
            except OSError:
                # A full disk must not take the runner down; the log is simply short.
                self.close()
