"""The runner's event log: one line per event on stderr, ``key=value`` for people, JSON for
machines."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from typing import Any, TextIO


class EventLog:
    """One line per event on stderr: ``key=value`` for people, JSON objects for machines.

    Lines are buffered and written by ``flush()``, which the loop calls before it sleeps: a
    burst of 200 starts then costs one write, not 400 (a write and a flush per line was a
    fifth of the runner's time in that burst)."""

    def __init__(self, stream: TextIO, fmt: str = "text") -> None:
        self.stream = stream
        self.json = fmt == "json"
        # journald stamps every line itself: a second timestamp would only crowd the line
        self.stamped = self.json or not to_journald(stream)
        self._lines: list[str] = []

    def __call__(self, event: str, **fields: Any) -> None:
        if self.json:
            ts = datetime.now(UTC).isoformat(timespec="milliseconds")
            line = json.dumps({"ts": ts, "event": event, **fields}, default=str)
        else:
            parts = [f"{k}={_text(v)}" for k, v in fields.items() if v is not None]
            head = [event]
            if self.stamped:
                head.insert(0, datetime.now(UTC).isoformat(timespec="milliseconds"))
            line = " ".join([*head, *parts])
        self._lines.append(line + "\n")

    def flush(self) -> None:
        if not self._lines:
            return
        text, self._lines = "".join(self._lines), []
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed stderr must not stop the runner


_PLAIN = re.compile(r'[^\s"\\]+')


def _text(value: Any) -> str:
    """A value as one token: quoted (JSON string escapes) when it is empty or holds white
    space, a quote or a backslash, so a multi-line hook output stays on its event's line."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if _PLAIN.fullmatch(text) else json.dumps(text)


def to_journald(stream: TextIO) -> bool:
    """systemd sets JOURNAL_STREAM=DEVICE:INODE for a service whose stderr is the journal;
    it holds only while ``stream`` is still that very file (not redirected since)."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return expected == f"{st.st_dev}:{st.st_ino}"
