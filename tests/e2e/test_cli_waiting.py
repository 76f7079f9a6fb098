"""Commands that wait on a real runner: ``stop``, and what ``trigger --wait`` and ``logs -f``
do when the runner is killed under them (kill -9 records nothing) or the user presses Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from typing import IO

import pytest

from .conftest import CRONPY, E2E, WAIT

pytestmark = pytest.mark.e2e

NEVER_SOON = "0 0 1 1 *"  # only a trigger starts these jobs during a test
JOBS = f"""
[jobs.long]
schedule = "{NEVER_SOON}"
command = "echo started; sleep 60"
"""


def test_stop_signals_the_runner_and_waits_for_it(e2e: E2E) -> None:
    runner = e2e.start(JOBS)
    started = time.monotonic()
    stopped = e2e.cli("stop", "--json", check=0)
    assert time.monotonic() - started < WAIT
    assert not runner.alive, "stop returned before the runner exited"
    assert runner.proc.returncode == 0
    assert stopped.stdout.startswith("{") and f'"pid": {runner.pid}' in stopped.stdout
    again = e2e.cli("stop")
    assert again.code == 3 and "no runner is running" in again.stderr


def test_stop_gives_up_after_its_timeout(e2e: E2E) -> None:
    runner = e2e.start("[cronpy]\nshutdown_grace = '30s'\n" + JOBS)
    runner.cli("trigger", "long", check=0)
    runner.wait_runs("long", 1, status="running")
    pgid = runner.wait_for(lambda: runner.db_runs("long")[0]["pid"], WAIT, "the run's pid")
    result = e2e.cli("stop", "--timeout", "0.5")
    assert result.code == 1 and "still up after 0.5s" in result.stderr
    assert runner.alive  # it is waiting for the running job (shutdown_grace)
    os.killpg(pgid, signal.SIGTERM)  # the job ends: the stopping runner exits
    assert runner.wait_exit(WAIT) == 0


@pytest.mark.parametrize("command", [["trigger", "long", "--wait"], ["logs", "long", "-f"]])
def test_waiting_commands_notice_a_killed_runner(e2e: E2E, command: list[str]) -> None:
    runner = e2e.start(JOBS)
    if command[0] == "logs":
        runner.cli("trigger", "long", check=0)
    proc = subprocess.Popen(
        [CRONPY, *command],
        env=runner.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        (run,) = runner.wait_runs("long", 1, status="running")
        runner.wait_for(lambda: runner.db_runs("long")[0]["pid"], WAIT, "the run's pid")
        runner.stop(signal.SIGKILL)
        out, err = proc.communicate(timeout=WAIT)  # within ~1s of the kill, not forever
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        # the job outlives its killed runner: end its group, as the next runner would
        pgid = runner.db_runs("long")[0]["pid"]
        if pgid:
            with contextlib.suppress(OSError):
                os.killpg(pgid, signal.SIGKILL)
    text = err.decode()
    assert proc.returncode == 3, text
    assert b"started" in out
    assert "runner is gone" in text and "left `running`" in text and "marks it lost" in text
    assert f"run {run['id']}" in text and "Traceback" not in text


def test_ctrl_c_during_trigger_wait_leaves_the_run_going(e2e: E2E) -> None:
    runner = e2e.start(JOBS)
    # Ctrl-C as a terminal sends it, even when this suite itself runs in the background (a
    # shell starts background jobs with SIGINT ignored, and exec keeps it ignored)
    unignore = (
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL);"
        " os.execv(sys.argv[1], sys.argv[1:])"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", unignore, CRONPY, "trigger", "long", "--wait"],
        env=runner.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        (run,) = runner.wait_runs("long", 1, status="running")
        assert proc.stderr is not None
        seen = _lines_until(proc.stderr, f"run {run['id']} started".encode())
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    text = seen + err.decode()
    assert f"run {run['id']} of 'long' goes on" in text
    assert f"cronpy cancel long --run {run['id']}" in text
    assert runner.db_runs("long")[0]["status"] == "running"
    runner.cli("cancel", "long", check=0)
    runner.wait_runs("long", 1, status="cancelled")


def _lines_until(stream: IO[bytes], wanted: bytes) -> str:
    """Read ``stream`` line by line until one holds ``wanted``; what was read. Fails after WAIT
    seconds instead of blocking the suite."""
    lines: list[bytes] = []

    def read() -> None:
        for line in stream:
            lines.append(line)
            if wanted in line:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(WAIT)
    assert lines and wanted in lines[-1], f"no {wanted!r} within {WAIT:g}s: {lines}"
    return b"".join(lines).decode()
