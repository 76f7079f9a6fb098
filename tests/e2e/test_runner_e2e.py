"""``cronpy run`` as a new user meets it: real runners, real jobs, real signals.

Schedules fire every second so each scenario takes a few seconds; every wait is a deadline loop
on the state database or the runner's JSON event lines (see conftest), never a fixed sleep.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .conftest import (
    CRONPY,
    E2E,
    REPO,
    WAIT,
    Runner,
    dt_to_us,
    pid_alive,
    read_runs,
    us_to_dt,
    utc_iso,
    wait_for,
)

pytestmark = pytest.mark.e2e

EVERY_SECOND = "* * * * * *"
NEVER_SOON = "0 0 1 1 *"  # only a trigger starts these jobs during a test


def iso(text: str | None) -> datetime:
    assert text is not None
    when = datetime.fromisoformat(text)
    assert when.utcoffset() is not None, f"{text} carries no UTC offset"
    return when


def after(rows: list[dict[str, Any]], us: int, **match: Any) -> list[dict[str, Any]]:
    """DB rows scheduled strictly after ``us`` that match the given columns."""
    return [
        r
        for r in rows
        if r["scheduled_at"] is not None
        and r["scheduled_at"] > us
        and all(r[k] == v for k, v in match.items())
    ]


def group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def now_us() -> int:
    return dt_to_us(datetime.now(UTC))


# -- one runner shared by the read-only checks -----------------------------------------------------

BASIC = f"""
[jobs.echo]
schedule = "{EVERY_SECOND}"
command = "echo out1; echo err1 >&2; echo out2"
"""


@pytest.fixture(scope="module")
def basic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[E2E, Runner]]:
    env = E2E(tmp_path_factory.mktemp("basic"))
    try:
        # umask 0: whatever the user's umask, run output and history must stay private
        runner = env.start(BASIC, umask=0)
        runner.wait_runs("echo", 2, status="succeeded")
        yield env, runner
    finally:
        env.close()


def test_history_records_every_field(basic: tuple[E2E, Runner]) -> None:
    _, runner = basic
    runs = runner.runs("echo")
    assert [r["id"] for r in runs] == sorted((r["id"] for r in runs), reverse=True)
    done = [r for r in runs if r["status"] == "succeeded"]
    assert len(done) >= 2
    for run in done:
        scheduled, started, ended = (
            iso(run["scheduled_at"]),
            iso(run["started_at"]),
            iso(run["ended_at"]),
        )
        assert scheduled.microsecond == 0  # an every-second schedule fires on whole seconds
        assert scheduled <= started <= ended
        assert run["lateness"] == pytest.approx((started - scheduled).total_seconds(), abs=1e-3)
        assert 0 <= run["lateness"] < 1.0
        assert run["duration"] == pytest.approx((ended - started).total_seconds(), abs=1e-3)
        assert run["exit_code"] == 0
        assert run["signal"] is None
        assert run["trigger"] == "schedule"
        assert run["attempt"] == 1
        assert run["host"] == socket.gethostname()
        assert isinstance(run["pid"], int) and run["pid"] > 0 and run["pid"] != runner.pid
        assert run["job"] == "echo"
    # one record per occurrence: no second was recorded twice
    scheduled_all = [r["scheduled_at"] for r in runs if r["status"] != "missed"]
    assert len(scheduled_all) == len(set(scheduled_all))


def test_logs_prints_stdout_and_stderr_interleaved(basic: tuple[E2E, Runner]) -> None:
    _, runner = basic
    latest = runner.cli("logs", "echo", check=0)
    assert latest.stdout == "out1\nerr1\nout2\n"
    first = min(r["id"] for r in runner.db_runs("echo") if r["status"] == "succeeded")
    by_id = runner.cli("logs", "echo", str(first), check=0)
    assert by_id.stdout == "out1\nerr1\nout2\n"


def test_state_is_private(basic: tuple[E2E, Runner]) -> None:
    env, _ = basic
    state = env.state_dir
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "state.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((state / "logs").stat().st_mode) == 0o700
    log_files = list((state / "logs").rglob("*.log"))
    assert len(log_files) >= 2
    for log in log_files:
        assert stat.S_IMODE(log.stat().st_mode) == 0o600, log
    # nothing anywhere in the state directory is open to group or others
    for path in [state, *state.rglob("*")]:
        with_others = stat.S_IMODE(path.lstat().st_mode) & 0o077
        assert not with_others, f"{path} is mode {oct(stat.S_IMODE(path.lstat().st_mode))}"


def test_status_lists_jobs_and_the_runner(basic: tuple[E2E, Runner]) -> None:
    _, runner = basic
    document = json.loads(runner.cli("status", "--json", check=0).stdout)
    assert [r["pid"] for r in document["runners"]] == [runner.pid]
    assert document["runners"][0]["host"] == socket.gethostname()
    (job,) = document["jobs"]
    assert job["name"] == "echo"
    assert job["paused"] is False
    last = job["last_run"]
    assert last is not None and last["job"] == "echo"
    next_run = iso(job["next_run_at"])
    assert next_run > iso(last["scheduled_at"])
    assert next_run - datetime.now(UTC) < timedelta(seconds=2)  # every second: next is close


def test_second_runner_on_the_same_state_is_refused(basic: tuple[E2E, Runner]) -> None:
    env, runner = basic
    holder = json.loads((env.state_dir / "runner.json").read_text())
    second = env.start(wait_ready=False)
    assert second.wait_exit() == 2
    message = second.stderr_text()
    assert str(runner.pid) in message
    assert socket.gethostname() in message
    assert holder["started_at"] in message
    assert abs(iso(holder["started_at"]) - runner.started_at) < timedelta(seconds=30)
    assert "Traceback" not in message
    # the first runner is undisturbed
    assert runner.alive
    before = max(r["id"] for r in runner.db_runs("echo"))
    runner.wait_for(lambda: max(r["id"] for r in runner.db_runs("echo")) > before)


# -- process trees, timeouts, spawn errors ---------------------------------------------------------


def test_timeout_kills_the_whole_process_tree(e2e: E2E) -> None:
    # The background subshell ignores SIGTERM: only killing the group with SIGKILL ends it.
    runner = e2e.start(
        """
[jobs.tree]
schedule = "every 1s"
command = "(trap '' TERM; sleep 60) & sleep 60; echo x"
timeout = "1s"
kill_grace = "1s"
"""
    )
    run = runner.wait_runs("tree", 1, status="timed_out")[0]
    assert run["exit_code"] is None
    assert "timeout" in (run["reason"] or "")
    assert run["ended_at"] - run["started_at"] >= 900_000  # not before its timeout of 1 s
    assert "x" not in runner.cli("logs", "tree", str(run["id"]), check=0).stdout
    wait_for(
        lambda: not e2e.leftovers(f"CRONPY_RUN_ID={run['id']}"),
        5,
        f"processes of timed-out run {run['id']} to be gone",
    )


def test_a_command_that_cannot_start_is_recorded_and_the_runner_goes_on(e2e: E2E) -> None:
    runner = e2e.start(
        f"""
[jobs.nobin]
schedule = "{EVERY_SECOND}"
command = ["/nonexistent/cronpy-e2e-binary", "--flag"]

[jobs.nocwd]
schedule = "{EVERY_SECOND}"
command = "true"
cwd = "/nonexistent/cronpy-e2e-dir"

[jobs.fine]
schedule = "{EVERY_SECOND}"
command = "true"
"""
    )
    nobin = runner.wait_runs("nobin", 2, status="spawn_error")
    nocwd = runner.wait_runs("nocwd", 1, status="spawn_error")
    assert "/nonexistent/cronpy-e2e-binary" in nobin[0]["reason"]
    assert "not found" in nobin[0]["reason"]
    assert "/nonexistent/cronpy-e2e-dir" in nocwd[0]["reason"]
    assert "does not exist" in nocwd[0]["reason"]
    assert nobin[0]["pid"] in (None, 0)
    first_error = nobin[0]["scheduled_at"]
    runner.wait_runs("fine", 1, scheduled_after=first_error, status="succeeded")
    assert runner.alive
    assert runner.events("spawn-error", job="nobin")
    shown = {r["id"]: r for r in runner.runs("nocwd")}
    assert shown[nocwd[0]["id"]]["reason"] == nocwd[0]["reason"]


# -- pause and resume ------------------------------------------------------------------------------


def test_pause_resume_and_a_pause_that_expires_while_the_runner_is_up(e2e: E2E) -> None:
    runner = e2e.start(
        f"""
[jobs.held]
schedule = "{EVERY_SECOND}"
command = "true"

[jobs.brief]
schedule = "{EVERY_SECOND}"
command = "true"
"""
    )
    runner.wait_runs("held", 1, status="succeeded")
    runner.wait_runs("brief", 1, status="succeeded")
    runner.cli("pause", "held", check=0)
    brief = json.loads(runner.cli("pause", "brief", "--for", "3s", "--json", check=0).stdout)
    until = iso(brief["jobs"][0]["paused_until"])
    assert brief["runner_notified"] is True

    skipped = runner.wait_runs("held", 2, status="skipped", reason="paused")
    brief_skip = runner.wait_runs("brief", 1, status="skipped", reason="paused")[0]
    status = json.loads(runner.cli("status", "--json", check=0).stdout)
    assert {j["name"]: j["paused"] for j in status["jobs"]} == {"held": True, "brief": True}

    # brief resumes by itself once its pause ends, with nobody asking
    back = runner.wait_runs(
        "brief", 1, scheduled_after=brief_skip["scheduled_at"], status="succeeded"
    )
    assert back[0]["scheduled_at"] >= dt_to_us(until - timedelta(seconds=1))

    resumed_at = now_us()
    runner.cli("resume", "held", check=0)
    again = runner.wait_runs("held", 1, scheduled_after=resumed_at, status="succeeded")
    # while paused, every occurrence of held was recorded skipped and none started
    held = runner.db_runs("held")
    first_skip = skipped[0]["scheduled_at"]
    between = [r for r in held if first_skip <= r["scheduled_at"] < again[0]["scheduled_at"]]
    assert between and all(r["status"] == "skipped" for r in between), between
    assert all(r["reason"] == "paused" for r in between if r["scheduled_at"] < resumed_at)
    assert not [r for r in held if r["status"] == "running" and r["scheduled_at"] < resumed_at]


def test_a_pause_made_while_no_runner_is_up_holds_when_one_starts(e2e: E2E) -> None:
    first = e2e.start(
        f"""
[jobs.nightly]
schedule = "{EVERY_SECOND}"
command = "true"
"""
    )
    assert first.stop() == 0
    e2e.cli("pause", "nightly", check=0)
    second = e2e.start()
    started = dt_to_us(second.started_at)
    skipped = second.wait_runs("nightly", 2, scheduled_after=started, status="skipped")
    assert all(r["reason"] == "paused" for r in skipped)
    assert not after(second.db_runs("nightly"), started, status="succeeded")
    assert not second.events("start", job="nightly")


# -- trigger and cancel ----------------------------------------------------------------------------


def test_trigger_wait_streams_output_and_exits_with_the_result(e2e: E2E) -> None:
    runner = e2e.start(
        f"""
[jobs.fails]
schedule = "{NEVER_SOON}"
command = "echo hi; exit 3"

[jobs.works]
schedule = "{NEVER_SOON}"
command = "echo first; sleep 1.5; echo second"
"""
    )
    failed = runner.cli("trigger", "fails", "--wait", check=1)
    assert "hi" in failed.stdout.splitlines()
    assert "Traceback" not in failed.stderr

    # streaming: the first line arrives while the run is still going
    proc = subprocess.Popen(
        [CRONPY, "trigger", "works", "--wait"],
        env=runner.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        line = _readline(proc.stdout, WAIT)
        assert line == b"first\n"
        running = [r for r in runner.db_runs("works") if r["status"] == "running"]
        assert running, "the first line should come before the run ends"
        rest, _ = proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert rest == b"second\n"

    (bad,) = runner.db_runs("fails")
    (good,) = runner.db_runs("works")
    assert (bad["trigger"], bad["status"], bad["exit_code"]) == ("manual", "failed", 3)
    assert (good["trigger"], good["status"], good["exit_code"]) == ("manual", "succeeded", 0)


def _readline(stream: Any, timeout: float) -> bytes:
    """One line from a pipe, failing after ``timeout`` instead of blocking the suite."""
    box: list[bytes] = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert box, f"no line within {timeout:g}s"
    return box[0]


def test_cancel_stops_a_running_job_and_its_group(e2e: E2E) -> None:
    runner = e2e.start(
        f"""
[jobs.long]
schedule = "{NEVER_SOON}"
command = "sleep 60 & sleep 60"
"""
    )
    runner.cli("trigger", "long", check=0)
    (run,) = runner.wait_runs("long", 1, status="running")
    runner.wait_for(lambda: runner.db_runs("long")[0]["pid"], WAIT, "the run's pid")
    pgid = runner.db_runs("long")[0]["pid"]
    assert e2e.leftovers(f"CRONPY_RUN_ID={run['id']}")
    runner.cli("cancel", "long", check=0)
    (done,) = runner.wait_runs("long", 1, status="cancelled")
    assert done["trigger"] == "manual"
    wait_for(lambda: not e2e.leftovers(f"CRONPY_RUN_ID={run['id']}"), 5, "the group to end")
    # zombies count as members until init reaps the orphans, so give that a moment too
    wait_for(lambda: not group_exists(pgid), 5, f"process group {pgid} to be gone")
    # cancelling again: nothing runs, and the command says so (exit 1), without a traceback
    again = runner.cli("cancel", "long")
    assert again.code == 1 and "Traceback" not in again.stderr


# -- overlap and retries ---------------------------------------------------------------------------


def test_overlap_forbid_records_skipped_occurrences(e2e: E2E) -> None:
    runner = e2e.start(
        """
[jobs.busy]
schedule = "every 1s"
command = "sleep 2.5"
overlap = "forbid"
"""
    )
    skipped = runner.wait_runs("busy", 2, status="skipped", reason="overlap")
    first = runner.wait_runs("busy", 1, status="succeeded")[0]
    for row in skipped[:2]:
        assert first["started_at"] < row["scheduled_at"] < first["ended_at"]
    started = [r for r in runner.db_runs("busy") if r["started_at"] is not None]
    spans = sorted((r["started_at"], r["ended_at"] or now_us()) for r in started)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, "forbid must never run two at once"


def test_retry_then_on_dead_fires_once(e2e: E2E) -> None:
    marker = e2e.root / "dead.txt"
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    runner = e2e.start(
        f"""
[jobs.flaky]
at = ["{utc_iso(at)}"]
command = "echo attempt $CRONPY_ATTEMPT; exit 1"
retry = {{ attempts = 3, delay = "1s", backoff = "constant" }}
on_dead = "echo $CRONPY_RUN_ID $CRONPY_ATTEMPT >> {marker}"
"""
    )
    runs = runner.wait_runs("flaky", 3, status="failed")
    runner.wait_for(lambda: marker.exists() and marker.read_text().endswith("\n"), WAIT, "marker")
    assert runner.stop() == 0  # every event is on stderr now
    runs = runner.db_runs("flaky")
    assert [r["status"] for r in runs] == ["failed"] * 3
    assert [r["trigger"] for r in runs] == ["schedule", "retry", "retry"]
    assert [r["attempt"] for r in runs] == [1, 2, 3]
    assert {r["scheduled_at"] for r in runs} == {dt_to_us(at)}
    for earlier, later in itertools.pairwise(runs):
        assert later["started_at"] - earlier["ended_at"] >= 900_000  # constant 1 s delay
    assert marker.read_text().split("\n") == [f"{runs[2]['id']} 3", ""]
    assert len(runner.events("hook", hook="on_dead")) == 1


# -- stopping --------------------------------------------------------------------------------------


def test_sigterm_waits_for_a_running_job(e2e: E2E) -> None:
    runner = e2e.start(
        """
[cronpy]
shutdown_grace = "5s"

[jobs.slow]
schedule = "every 1s"
command = "sleep 2; echo finished"
"""
    )
    (run,) = runner.wait_runs("slow", 1, status="running")
    term_at = now_us()
    assert runner.stop() == 0
    rows = runner.db_runs("slow")
    done = next(r for r in rows if r["id"] == run["id"])
    assert done["status"] == "succeeded"
    assert done["ended_at"] > term_at
    assert "finished" in done["output_tail"]
    assert not [r for r in rows if r["status"] == "running"]
    assert not [r for r in rows if (r["started_at"] or 0) > term_at], "started after SIGTERM"
    assert runner.events("stopping")[0]["running"] == 1


def test_sigterm_cancels_a_long_job_after_shutdown_grace(e2e: E2E) -> None:
    runner = e2e.start(
        """
[cronpy]
shutdown_grace = "1s"

[jobs.long]
schedule = "every 1s"
command = "sleep 60"
"""
    )
    (run,) = runner.wait_runs("long", 1, status="running")
    t0 = time.monotonic()
    assert runner.stop() == 0
    assert time.monotonic() - t0 >= 0.9, "the runner must give its job shutdown_grace"
    rows = runner.db_runs("long")
    assert next(r for r in rows if r["id"] == run["id"])["status"] == "cancelled"
    assert not [r for r in rows if r["status"] == "running"]
    wait_for(lambda: not e2e.leftovers(), 5, "no job process left")


# -- reload ----------------------------------------------------------------------------------------


def _job(name: str, command: str = "true") -> str:
    return f'\n[jobs.{name}]\nschedule = "{EVERY_SECOND}"\ncommand = "{command}"\n'


def test_reload_adds_jobs_and_rejects_a_broken_file(e2e: E2E) -> None:
    runner = e2e.start(_job("a"))
    runner.wait_runs("a", 1, status="succeeded")

    e2e.write_jobs(_job("a") + _job("b"))
    runner.send(signal.SIGHUP)
    runner.wait_runs("b", 1, status="succeeded")
    assert runner.events("reloaded")[-1]["added"] == ["b"]

    e2e.write_jobs(_job("a") + _job("b") + _job("c"))
    runner.cli("reload", check=0)
    runner.wait_runs("c", 1, status="succeeded")

    e2e.write_jobs(_job("a") + '\n[jobs.d]\nschedule = "not a schedule"\ncommand = "true"\n')
    runner.send(signal.SIGHUP)
    rejected = runner.wait_event("reload-rejected")
    assert "schedule" in rejected["problem"]
    refused = runner.cli("reload", check=2)  # `systemctl reload` fails on a typo too
    assert re.search(r"jobs\.toml:\d+:\d+: job 'd', key 'schedule'", refused.stderr), refused
    runner.wait_for(lambda: len(runner.events("reload-rejected")) >= 2, WAIT, "second rejection")
    (status,) = json.loads(runner.cli("status", "--json", check=0).stdout)["runners"]
    assert "schedule" in status["reload_refused"] and status["loaded_at"]
    assert "still runs the job file loaded at" in runner.cli("status", check=0).stdout
    since = now_us()
    for name in ("a", "b", "c"):  # the old jobs keep running, all three
        runner.wait_runs(name, 1, scheduled_after=since, status="succeeded")
    assert runner.alive
    assert not runner.db_runs("d")


# -- the process around the runner -----------------------------------------------------------------


def test_daemon_detaches_and_is_stopped_through_its_pid_file(e2e: E2E) -> None:
    e2e.write_jobs(_job("bg"))
    t0 = time.monotonic()
    e2e.cli("run", str(e2e.job_file), "--daemon", check=0)
    assert time.monotonic() - t0 < 5
    pid_file = e2e.state_dir / "runner.pid"
    pid = int(pid_file.read_text())
    e2e.extra_pids.append(pid)
    assert pid_alive(pid)
    assert json.loads((e2e.state_dir / "runner.json").read_text())["pid"] == pid
    wait_for(
        lambda: [r for r in _rows(e2e, "bg") if r["status"] == "succeeded"], WAIT, "a daemon run"
    )
    os.kill(int(pid_file.read_text()), signal.SIGTERM)
    wait_for(lambda: not pid_alive(pid), WAIT, "the daemon to exit")
    assert not pid_file.exists()
    assert "stopped" in (e2e.state_dir / "runner.log").read_text()


def test_a_refused_second_daemon_names_the_holder_and_leaves_its_pid_file(e2e: E2E) -> None:
    e2e.write_jobs(_job("bg"))
    e2e.cli("run", str(e2e.job_file), "--daemon", check=0)
    pid_file = e2e.state_dir / "runner.pid"
    pid = int(pid_file.read_text())
    e2e.extra_pids.append(pid)
    second = e2e.cli("run", str(e2e.job_file), "--daemon")
    assert second.code == 2
    assert str(pid) in second.stderr and socket.gethostname() in second.stderr
    assert pid_alive(pid)
    assert int(pid_file.read_text()) == pid  # not the refused daemon's pid


def test_a_daemon_that_cannot_open_its_state_says_why_with_the_right_exit_code(e2e: E2E) -> None:
    e2e.write_jobs(_job("bg"))
    e2e.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (e2e.state_dir / "state.db").write_bytes(b"not a database" * 1000)
    result = e2e.cli("run", str(e2e.job_file), "--daemon")
    assert result.code == 3  # state unavailable, said by the parent the user is waiting on
    assert "not a database" in result.stderr and "Traceback" not in result.stderr
    assert not (e2e.state_dir / "runner.pid").exists()


def _rows(e2e: E2E, job: str) -> list[dict[str, Any]]:
    return read_runs(e2e.state_dir, job)


def test_sd_notify_ready_and_stopping(e2e: E2E) -> None:
    path = e2e.root / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.2)
    received: list[str] = []

    def got(word: str) -> bool:
        try:
            while True:
                received.append(sock.recv(4096).decode())
        except (TimeoutError, BlockingIOError):
            pass
        return any(word in m.split("\n") for m in received)

    try:
        runner = e2e.start(_job("n"), env={"NOTIFY_SOCKET": str(path)}, wait_ready=False)
        wait_for(lambda: got("READY=1"), WAIT, "READY=1", diagnose=runner.diagnose)
        ready = next(m for m in received if "READY=1" in m.split("\n"))
        assert any(line.startswith("STATUS=") for line in ready.split("\n"))
        assert not any("STOPPING=1" in m for m in received)
        runner.send(signal.SIGTERM)
        wait_for(lambda: got("STOPPING=1"), WAIT, "STOPPING=1", diagnose=runner.diagnose)
        assert runner.wait_exit() == 0
    finally:
        sock.close()


# -- the example file, tried as its own header tells a new user to ---------------------------------

EXAMPLE = REPO / "examples" / "jobs.toml"


@pytest.fixture(scope="module", autouse=True)
def example_runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    """Started with the module: ``hello`` fires 10 s after it first appears, and those seconds
    are better spent running the other scenarios than waiting."""
    env = E2E(tmp_path_factory.mktemp("example"))
    try:
        yield env.start(job_file=EXAMPLE)
    finally:
        env.close()


def test_the_example_file_validates_and_runs_hello(example_runner: Runner) -> None:
    runner = example_runner
    checked = runner.cli("validate", str(EXAMPLE), check=0)
    assert "Traceback" not in checked.stderr
    deadline = runner.started_at + timedelta(seconds=14)
    left = max(0.5, (deadline - datetime.now(UTC)).total_seconds())
    (hello, *_) = runner.wait_runs("hello", 1, timeout=left, status="succeeded")
    started = us_to_dt(hello["started_at"])
    assert started is not None and started - runner.started_at <= timedelta(seconds=12)
    assert "hello from hello, run" in hello["output_tail"]
    assert runner.alive
