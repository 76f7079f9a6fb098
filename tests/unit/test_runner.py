"""The real-time driver's checks that need no running loop."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cronpy.errors import UsageError
from cronpy.runtime.eventlog import EventLog
from cronpy.runtime.start import run_runner

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "jobs.toml"


def test_a_state_dir_too_long_for_the_wake_socket_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    state = tmp_path / ("x" * 120)
    with pytest.raises(UsageError, match="too long") as caught:
        run_runner(EXAMPLE, state_dir=state)
    assert caught.value.exit_code == 2
    assert not state.exists()


def test_event_lines_are_written_once_per_flush(tmp_path: Path) -> None:
    class Stream:
        def __init__(self) -> None:
            self.writes: list[str] = []

        def write(self, text: str) -> None:
            self.writes.append(text)

        def flush(self) -> None:
            pass

    stream = Stream()
    log = EventLog(stream, "json")  # type: ignore[arg-type]
    log("start", job="a", run=1)
    log("end", job="a", run=1, status="succeeded")
    assert stream.writes == []
    log.flush()
    assert len(stream.writes) == 1
    lines = stream.writes[0].splitlines()
    assert [line.split('"event": ')[1].split(",")[0] for line in lines] == ['"start"', '"end"']
    log.flush()
    assert len(stream.writes) == 1  # nothing new, nothing written


def test_event_log_keeps_a_multi_line_value_on_one_line() -> None:
    stream = io.StringIO()
    log = EventLog(stream)
    log("hook-end", job="j", output='two\nlines "quoted"', empty="", plain="ok")
    log.flush()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert 'output="two\\nlines \\"quoted\\""' in lines[0]
    assert 'empty=""' in lines[0] and " plain=ok" in lines[0]
