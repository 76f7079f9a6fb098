"""The launcher against real processes: exits, output capture, timeouts, stops, spawn errors,
and the same for ``on_*`` hooks.

The test process makes itself a child subreaper, as the runner is when it is PID 1 in a
container: orphans of killed job trees are then reparented to it, which lets the tests
check that no process of a run's group survives and that the launcher reaps them.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import pwd
import selectors
import signal
import stat
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cronpy.launch import Launcher, parse_env
from cronpy.model import HookOutcome, HookRequest, Job, Keep, LaunchRequest, Outcome, Status

PR_SET_CHILD_SUBREAPER = 36
IS_ROOT = os.geteuid() == 0


@dataclass
class _NoSchedule:
    """The launcher never looks at schedules; a job just needs one."""

    text: str = "@never"
    fixed_time: bool = False
    is_reboot: bool = False

    def next_after(self, after: datetime, *, anchor: datetime | None = None) -> datetime | None:
        return None


def make_job(command: str | tuple[str, ...], **kwargs: Any) -> Job:
    return Job(
        name=kwargs.pop("name", "job"),
        schedule=_NoSchedule(),
        command=command,
        timezone=ZoneInfo("UTC"),
        **kwargs,
    )


def hook_request(command: str, **kwargs: Any) -> HookRequest:
    return HookRequest(
        job="job",
        event="on_failure",
        argv=(kwargs.pop("shell", "/bin/sh"), "-c", command),
        env=kwargs.pop("env", {"PATH": os.environ["PATH"]}),
        timeout=kwargs.pop("timeout", 60.0),
        kill_grace=kwargs.pop("kill_grace", 5.0),
        **kwargs,
    )


def _prctl_subreaper(on: bool) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
        pytest.skip("cannot become a child subreaper")


@pytest.fixture(scope="module", autouse=True)
def subreaper() -> Iterator[None]:
    _prctl_subreaper(True)
    yield
    _prctl_subreaper(False)


def drive(
    selector: selectors.BaseSelector, launcher: Launcher, timeout: float = 10
) -> tuple[list[Outcome], list[HookOutcome]]:
    """Drive the launcher as the runner's loop does until no run and no hook is left."""
    end = time.monotonic() + timeout
    outcomes: list[Outcome] = []
    hooks: list[HookOutcome] = []
    while launcher.running or launcher.hooks_running:
        now = time.monotonic()
        assert now < end, f"still going after {timeout}s: {dict(launcher.running)}"
        wait = end - now
        deadline = launcher.next_deadline()
        if deadline is not None:
            wait = max(0.0, min(wait, deadline - now))
        for key, mask in selector.select(wait):
            key.data(mask)
        launcher.check_deadlines()
        outcomes += launcher.drain()
        hooks += launcher.drain_hooks()
    return outcomes + launcher.drain(), hooks + launcher.drain_hooks()


def run_until_done(
    selector: selectors.BaseSelector, launcher: Launcher, timeout: float = 10
) -> list[Outcome]:
    """Drive the launcher as the runner's loop does until no run is left."""
    outcomes, hooks = drive(selector, launcher, timeout)
    assert not hooks
    return outcomes


def group_gone(launcher: Launcher, pgid: int, within: float = 5.0) -> bool:
    """True once no process of group ``pgid`` exists, killed ones included (they must be reaped)."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        launcher.reap_orphans()  # what the runner does on SIGCHLD
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.01)
    return False


@dataclass
class Harness:
    tmp: Path
    selector: selectors.BaseSelector = field(default_factory=selectors.DefaultSelector)
    launcher: Launcher = field(init=False)
    count: int = 0

    def __post_init__(self) -> None:
        self.launcher = Launcher(self.selector)

    def request(self, job: Job, **kwargs: Any) -> LaunchRequest:
        self.count += 1
        run_id = kwargs.pop("run_id", self.count)
        return LaunchRequest(
            run_id=run_id,
            job=job,
            scheduled_at=kwargs.pop("scheduled_at", None),
            attempt=kwargs.pop("attempt", 1),
            log_path=kwargs.pop("log_path", self.tmp / f"run-{run_id}.log"),
            **kwargs,
        )

    def hook(self, command: str, **kwargs: Any) -> HookOutcome:
        """Run ``command`` as an on_failure hook to its end."""
        self.launcher.start_hook(hook_request(command, **kwargs))
        _, [outcome] = drive(self.selector, self.launcher)
        return outcome

    def start(self, job: Job, **kwargs: Any) -> int:
        pid = self.launcher.start(self.request(job, **kwargs))
        assert isinstance(pid, int), pid
        return pid

    def run(self, job: Job, **kwargs: Any) -> Outcome:
        self.start(job, **kwargs)
        [outcome] = run_until_done(self.selector, self.launcher)
        return outcome

    def wait_for_output(self, run_id: int, expected: bytes, within: float = 5) -> None:
        end = time.monotonic() + within
        while self.log(run_id) != expected:
            assert time.monotonic() < end, f"no {expected!r} from run {run_id}"
            for key, mask in self.selector.select(end - time.monotonic()):
                key.data(mask)

    def log(self, run_id: int) -> bytes:
        path = self.tmp / f"run-{run_id}.log"
        return path.read_bytes() if path.exists() else b""  # created by the first output


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    assert not harness.launcher.running
    assert not harness.launcher.hooks_running
    # Leftovers of killed trees die asynchronously; once they have, none may stay a zombie.
    end = time.monotonic() + 5
    while harness.launcher.orphan_groups and time.monotonic() < end:
        harness.launcher.reap_orphans()
        time.sleep(0.01)
    assert harness.launcher.orphan_groups == 0
    try:
        leftover = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:  # no child at all
        leftover = (0, 0)
    assert leftover == (0, 0), "a child was left unreaped"
    harness.selector.close()


# --- exits -------------------------------------------------------------------------------


def test_exit_code_zero_succeeds_and_others_fail(h: Harness) -> None:
    ok = h.run(make_job("true"))
    failed = h.run(make_job("exit 3"))
    assert (ok.status, ok.exit_code, ok.signal) == (Status.SUCCEEDED, 0, None)
    assert (failed.status, failed.exit_code, failed.signal) == (Status.FAILED, 3, None)


def test_success_codes_decide_success(h: Harness) -> None:
    outcome = h.run(make_job("exit 3", success_codes=frozenset({0, 3})))
    assert outcome.status is Status.SUCCEEDED
    assert h.run(make_job("exit 0", success_codes=frozenset({3}))).status is Status.FAILED


def test_outcome_names_the_run_and_pid(h: Harness) -> None:
    pid = h.start(make_job("true"), run_id=42)
    [outcome] = run_until_done(h.selector, h.launcher)
    assert (outcome.run_id, outcome.pid) == (42, pid)
    assert outcome.ended_monotonic <= time.monotonic()


def test_argv_list_runs_without_a_shell(h: Harness) -> None:
    outcome = h.run(make_job(("printf", "%s|", "a b", "$HOME", "*")))
    assert outcome.status is Status.SUCCEEDED
    assert h.log(1) == b"a b|$HOME|*|"


def test_shell_setting_runs_string_commands(h: Harness) -> None:
    h.run(make_job('echo "$0"', shell="/bin/bash"))
    assert h.log(1) == b"/bin/bash\n"


def test_stdin_is_dev_null(h: Harness) -> None:
    started = time.monotonic()
    outcome = h.run(make_job("cat; echo eof"))
    assert outcome.status is Status.SUCCEEDED
    assert h.log(1) == b"eof\n"
    assert time.monotonic() - started < 5


# --- output ------------------------------------------------------------------------------


def test_stdout_and_stderr_are_interleaved_in_order(h: Harness) -> None:
    outcome = h.run(make_job("echo out1; echo err1 >&2; echo out2; echo err2 >&2"))
    assert h.log(1) == b"out1\nerr1\nout2\nerr2\n"
    assert outcome.output_tail == "out1\nerr1\nout2\nerr2\n"


def test_log_file_is_private_and_new(h: Harness) -> None:
    h.run(make_job("echo hi"))
    assert stat.S_IMODE(os.stat(h.tmp / "run-1.log").st_mode) == 0o600
    existing = h.tmp / "taken.log"
    existing.write_text("someone else's\n")
    outcome = h.run(make_job("echo hi"), log_path=existing)
    # the job still ran; its output went to the history tail only, and the reason says why
    assert outcome.status is Status.SUCCEEDED
    assert outcome.output_tail == "hi\n"
    assert outcome.reason == f"log file {existing}: file exists"
    assert existing.read_text() == "someone else's\n"


def test_output_tail_keeps_the_last_20_lines(h: Harness) -> None:
    outcome = h.run(make_job("seq 1 30"))
    assert outcome.output_tail == "".join(f"{i}\n" for i in range(11, 31))


def test_output_tail_is_at_most_4096_bytes_of_whole_lines(h: Harness) -> None:
    # 10 lines of 1000 bytes: only 4 whole lines fit.
    outcome = h.run(make_job('for i in 0 1 2 3 4 5 6 7 8 9; do printf "%0999d\\n" $i; done'))
    lines = outcome.output_tail.splitlines()
    assert lines == [f"{i:0999d}" for i in range(6, 10)]


def test_output_tail_exactly_at_a_line_boundary_loses_nothing(h: Harness) -> None:
    # Eight lines of 512 bytes are exactly 4096 bytes, after a first line that is dropped.
    outcome = h.run(
        make_job('echo first; for i in 1 2 3 4 5 6 7 8; do printf "%0511d\\n" $i; done')
    )
    assert outcome.output_tail.splitlines() == [f"{i:0511d}" for i in range(1, 9)]


def test_large_output_is_capped_to_head_and_tail_in_bounded_memory(h: Harness) -> None:
    cap = 64 * 1024
    body = 5_000_000
    job = make_job(f"echo BEGIN; yes line | head -c {body}; echo END", keep=Keep(output=cap))
    tracemalloc.start()
    try:
        outcome = h.run(job)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outcome.status is Status.SUCCEEDED
    total = len(b"BEGIN\n") + body + len(b"END\n")
    marker = f"\n[cronpy: {total - cap} bytes omitted]\n".encode()
    log = h.log(1)
    assert len(log) == cap + len(marker)
    head, tail = log[: cap // 2], log[cap // 2 + len(marker) :]
    assert head.startswith(b"BEGIN\nline\n")
    assert log[cap // 2 : cap // 2 + len(marker)] == marker
    assert len(tail) == cap // 2 and tail.endswith(b"line\nEND\n")
    assert outcome.output_tail.endswith("line\nEND\n")
    assert h.launcher.peak_buffered <= cap // 2
    assert peak < 1024 * 1024  # 5 MB went through; holding it would show here


def test_output_under_the_cap_is_kept_whole(h: Harness) -> None:
    cap = 1000
    h.run(make_job("seq 1 300", keep=Keep(output=cap)))  # 1092 bytes
    expected = "".join(f"{i}\n" for i in range(1, 301)).encode()
    log = h.log(1)
    assert log.startswith(expected[:500])
    assert log.endswith(expected[-500:])
    assert f"[cronpy: {len(expected) - cap} bytes omitted]".encode() in log
    h.run(make_job("seq 1 100", keep=Keep(output=cap)))  # 292 bytes: no marker
    assert h.log(2) == "".join(f"{i}\n" for i in range(1, 101)).encode()


# --- timeouts and stops ------------------------------------------------------------------


def test_timeout_kills_the_whole_tree(h: Harness) -> None:
    started = time.monotonic()
    pid = h.start(make_job("sleep 300 & sleep 300 & wait", timeout=0.5, kill_grace=5))
    [outcome] = run_until_done(h.selector, h.launcher)
    assert outcome.status is Status.TIMED_OUT
    assert outcome.signal == signal.SIGTERM
    assert outcome.reason == "timeout of 0.5s exceeded"
    assert 0.5 <= time.monotonic() - started < 4  # SIGTERM sufficed: no wait for the grace
    assert group_gone(h.launcher, pid)


def test_timeout_signals_every_process_of_the_group(h: Harness) -> None:
    # The main process survives SIGTERM and waits for its child: only if the child got
    # SIGTERM too does it report before the (long) grace runs out.
    command = (
        "trap 'echo main got TERM' TERM; sleep 300 & child=$!; "
        'wait $child; wait $child; echo "child ended $?"'
    )
    started = time.monotonic()
    outcome = h.run(make_job(command, timeout=0.3, kill_grace=30))
    assert (outcome.status, outcome.exit_code) == (Status.TIMED_OUT, 0)
    log = h.log(1)  # (the shell may also report the child as "Terminated")
    assert b"main got TERM\n" in log
    assert log.endswith(b"child ended 143\n")
    assert time.monotonic() - started < 10


def test_timeout_escalates_to_sigkill_after_kill_grace(h: Harness) -> None:
    started = time.monotonic()
    pid = h.start(make_job('trap "" TERM; sleep 300; echo survived', timeout=0.3, kill_grace=0.4))
    [outcome] = run_until_done(h.selector, h.launcher)
    assert (outcome.status, outcome.signal) == (Status.TIMED_OUT, signal.SIGKILL)
    assert 0.7 <= time.monotonic() - started < 5
    assert group_gone(h.launcher, pid)


def test_exit_after_sigterm_is_still_timed_out(h: Harness) -> None:
    outcome = h.run(make_job("trap 'exit 143' TERM; sleep 300 & wait", timeout=0.3))
    assert (outcome.status, outcome.exit_code, outcome.signal) == (Status.TIMED_OUT, 143, None)


def test_deadlines_follow_the_injected_clock(tmp_path: Path) -> None:
    now = [1000.0]
    selector = selectors.DefaultSelector()
    launcher = Launcher(selector, monotonic=lambda: now[0])
    harness = Harness(tmp_path, selector)
    harness.launcher = launcher
    harness.start(make_job(("sleep", "300"), timeout=60, kill_grace=7))
    harness.start(make_job(("true",)))
    assert launcher.next_deadline() == 1060.0
    now[0] = 1059.9
    launcher.check_deadlines()
    assert launcher.next_deadline() == 1060.0  # not yet: nothing signalled
    now[0] = 1060.0
    launcher.check_deadlines()
    assert launcher.next_deadline() == 1067.0  # SIGTERM sent, SIGKILL due after the grace
    outcomes = {o.run_id: o for o in run_until_done(selector, launcher)}
    assert (outcomes[1].status, outcomes[1].signal) == (Status.TIMED_OUT, signal.SIGTERM)
    assert outcomes[2].status is Status.SUCCEEDED
    assert launcher.next_deadline() is None
    selector.close()


def test_stop_cancels_with_its_reason(h: Harness) -> None:
    h.start(make_job("sleep 300", kill_grace=5), run_id=7)
    h.launcher.stop(7, "cancelled")
    [outcome] = run_until_done(h.selector, h.launcher)
    assert (outcome.status, outcome.reason) == (Status.CANCELLED, "cancelled")
    assert outcome.signal == signal.SIGTERM


def test_stop_escalates_after_its_grace(h: Harness) -> None:
    h.start(make_job('trap "" TERM; echo ready; sleep 300', kill_grace=300), run_id=1)
    h.wait_for_output(1, b"ready\n")  # a SIGTERM before the trap would simply kill it
    h.launcher.stop(1, "replaced", grace=0.2)
    [outcome] = run_until_done(h.selector, h.launcher)
    assert (outcome.status, outcome.reason, outcome.signal) == (
        Status.CANCELLED,
        "replaced",
        signal.SIGKILL,
    )


def test_stop_all_stops_every_run(h: Harness) -> None:
    for _ in range(3):
        h.start(make_job("sleep 300"))
    h.launcher.stop_all("shutdown", grace=1)
    outcomes = run_until_done(h.selector, h.launcher)
    assert sorted(o.run_id for o in outcomes) == [1, 2, 3]
    assert {(o.status, o.reason) for o in outcomes} == {(Status.CANCELLED, "shutdown")}


def test_stop_of_a_run_that_already_exited_keeps_its_real_outcome(h: Harness) -> None:
    pid = h.start(make_job("exit 4"), run_id=1)
    # Wait until it has exited, without reaping it or letting the launcher see it.
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    h.launcher.stop(1, "cancelled")
    [outcome] = run_until_done(h.selector, h.launcher)
    assert (outcome.status, outcome.exit_code, outcome.reason) == (Status.FAILED, 4, None)


def test_stop_of_an_unknown_run_is_ignored(h: Harness) -> None:
    h.launcher.stop(999, "cancelled")
    assert not h.launcher.drain()


def test_signal_from_elsewhere_is_killed(h: Harness) -> None:
    pid = h.start(make_job(("sleep", "300")))
    os.kill(pid, signal.SIGKILL)
    [outcome] = run_until_done(h.selector, h.launcher)
    assert (outcome.status, outcome.signal, outcome.exit_code) == (Status.KILLED, 9, None)


def test_background_leftover_is_killed_when_the_main_process_exits(h: Harness) -> None:
    started = time.monotonic()
    pid = h.start(make_job("sleep 300 & echo done"))
    [outcome] = run_until_done(h.selector, h.launcher)
    assert outcome.status is Status.SUCCEEDED
    assert h.log(1) == b"done\n"
    assert time.monotonic() - started < 5
    assert group_gone(h.launcher, pid)


# --- spawn errors ------------------------------------------------------------------------


def spawn_error(h: Harness, job: Job) -> str | None:
    outcome = h.launcher.start(h.request(job))
    assert isinstance(outcome, Outcome)
    assert outcome.status is Status.SPAWN_ERROR
    assert (outcome.pid, outcome.exit_code) == (None, None)
    assert not h.launcher.running
    return outcome.reason


def test_missing_command_is_a_spawn_error(h: Harness) -> None:
    assert spawn_error(h, make_job(("/nonexistent/tool", "x"))) == (
        "command '/nonexistent/tool' not found"
    )
    assert spawn_error(h, make_job(("no-such-command-xyz",))) == (
        "command 'no-such-command-xyz' not found"
    )
    assert spawn_error(h, make_job("true", shell="/nope/sh")) == "shell '/nope/sh' not found"
    # The log says it too, for `cronpy logs`.
    assert h.log(3) == b"[cronpy: cannot start: shell '/nope/sh' not found]\n"


def test_command_that_is_not_executable_is_a_spawn_error(h: Harness) -> None:
    script = h.tmp / "script"
    script.write_text("#!/bin/sh\necho hi\n")
    assert spawn_error(h, make_job((str(script),))) == f"command {str(script)!r}: permission denied"


def test_missing_binary_under_a_shell_is_exit_127(h: Harness) -> None:
    outcome = h.run(make_job("no-such-command-xyz"))
    assert (outcome.status, outcome.exit_code) == (Status.FAILED, 127)


def test_bad_cwd_is_a_spawn_error(h: Harness) -> None:
    assert spawn_error(h, make_job("true", cwd=Path("/nope"))) == "cwd /nope does not exist"
    a_file = h.tmp / "file"
    a_file.write_text("")
    assert spawn_error(h, make_job("true", cwd=a_file)) == f"cwd {a_file} is not a directory"


def test_cwd_is_used(h: Harness) -> None:
    h.run(make_job("pwd", cwd=h.tmp))
    assert h.log(1) == f"{h.tmp}\n".encode()


def test_unusable_env_file_is_a_spawn_error(h: Harness) -> None:
    missing = h.tmp / "missing.env"
    assert spawn_error(h, make_job("true", env_file=missing)) == (
        f"env_file {missing}: no such file or directory"
    )
    assert spawn_error(h, make_job("true", env_file=h.tmp)) == f"env_file {h.tmp}: is a directory"
    bad = h.tmp / "bad.env"
    bad.write_text("# ok\nA=1\nthis is not an assignment\n")
    assert spawn_error(h, make_job("true", env_file=bad)) == (
        f"env_file {bad}: line 3: expected KEY=VALUE, got 'this is not an assignment'"
    )


@pytest.mark.skipif(not IS_ROOT, reason="user is only honoured as root")
def test_unknown_user_is_a_spawn_error(h: Harness) -> None:
    job = make_job("true", user="no-such-user-xyz")
    assert spawn_error(h, job) == "user 'no-such-user-xyz' does not exist"


@pytest.mark.skipif(not IS_ROOT, reason="user is only honoured as root")
def test_user_switches_identity_groups_and_home(h: Harness) -> None:
    h.run(make_job('id -un; id -G; echo "$HOME $USER $LOGNAME"; pwd', user="nobody"))
    lines = h.log(1).decode().splitlines()
    nobody = pwd.getpwnam("nobody")
    assert lines[0] == "nobody"
    assert "0" not in lines[1].split()  # root's groups are not kept
    assert lines[2] == f"{nobody.pw_dir} nobody nobody"
    assert lines[3] == (nobody.pw_dir if os.path.isdir(nobody.pw_dir) else "/")


# --- environment -------------------------------------------------------------------------


def test_environment_reaches_the_command(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_RUNNER", "runner")
    monkeypatch.setenv("OVERRIDDEN", "runner")
    env_file = h.tmp / "job.env"
    env_file.write_text(
        "# comment\n"
        "\n"
        "export FROM_FILE=file\n"
        'QUOTED="a \\"b\\" $c"  # trailing\n'
        "SINGLE='x \\n y'\n"
        "OVERRIDDEN=file\n"
        "BY_JOB=file\n"
    )
    job = make_job(
        ("env",),
        name="backup",
        env={"BY_JOB": "job", "EXTRA": "job"},
        env_file=env_file,
    )
    h.run(
        job,
        run_id=17,
        attempt=2,
        scheduled_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        extra_env={"CRONPY_TRIGGER": "retry", "EXTRA": "runner"},
    )
    env = dict(line.split("=", 1) for line in h.log(17).decode().splitlines())
    assert env["FROM_RUNNER"] == "runner"
    assert env["OVERRIDDEN"] == "file"
    assert env["FROM_FILE"] == "file"
    assert env["QUOTED"] == 'a "b" $c'
    assert env["SINGLE"] == "x \\n y"
    assert env["BY_JOB"] == "job"
    assert env["EXTRA"] == "runner"
    assert env["CRONPY_JOB"] == "backup"
    assert env["CRONPY_RUN_ID"] == "17"
    assert env["CRONPY_ATTEMPT"] == "2"
    assert env["CRONPY_SCHEDULED_AT"] == "2026-01-02T03:04:05+00:00"
    assert env["CRONPY_TRIGGER"] == "retry"


def test_manual_run_has_an_empty_scheduled_at(h: Harness) -> None:
    h.run(make_job('printf "[%s]" "$CRONPY_SCHEDULED_AT"'))
    assert h.log(1) == b"[]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A=1\nB = 2 \n", {"A": "1", "B": "2"}),
        ("export A=1", {"A": "1"}),
        ("  # comment\n\nA=x=y", {"A": "x=y"}),
        ('A="line\\nbreak \\\\ \\q"', {"A": "line\nbreak \\ \\q"}),
        ("A='$HOME \"x\"'", {"A": '$HOME "x"'}),
        ("A=", {"A": ""}),
        ("A=1\nA=2", {"A": "2"}),
    ],
)
def test_parse_env(text: str, expected: dict[str, str]) -> None:
    assert parse_env(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A=1\n1A=2", "line 2: expected KEY=VALUE, got '1A=2'"),
        ("JUSTAKEY", "line 1: expected KEY=VALUE, got 'JUSTAKEY'"),
        ('A="open', "line 1: unterminated double quote in A"),
        ("A='open", "line 1: unterminated single quote in A"),
    ],
)
def test_parse_env_rejects_what_it_cannot_read(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_env(text)
    assert str(info.value) == message


# --- many runs ---------------------------------------------------------------------------


def test_parallel_runs_are_reported_separately_and_reaped(h: Harness) -> None:
    for i in range(20):
        h.start(make_job(f"echo run{i}; exit {i % 3}"))
    outcomes = {o.run_id: o for o in run_until_done(h.selector, h.launcher)}
    assert sorted(outcomes) == list(range(1, 21))
    for run_id, outcome in outcomes.items():
        i = run_id - 1
        assert outcome.exit_code == i % 3
        assert h.log(run_id) == f"run{i}\n".encode()
    assert len(h.selector.get_map()) == 0  # every descriptor was unregistered


# --- hooks -------------------------------------------------------------------------------


def test_hook_reports_its_exit_and_the_tail_of_its_output(h: Harness) -> None:
    outcome = h.hook("echo out; echo text >&2; exit 7")
    assert (outcome.status, outcome.exit_code, outcome.signal) == (Status.FAILED, 7, None)
    assert outcome.output_tail == "out\ntext\n"
    assert (outcome.job, outcome.event, outcome.reason) == ("job", "on_failure", None)
    assert isinstance(outcome.pid, int)
    assert 0 <= outcome.duration < 5
    assert not list(h.tmp.iterdir()), "a hook writes no log file"


def test_hook_that_exits_zero_succeeds(h: Harness) -> None:
    assert h.hook("true").status is Status.SUCCEEDED


def test_hook_tail_is_bounded(h: Harness) -> None:
    outcome = h.hook("seq 1 100000")
    assert outcome.output_tail == "".join(f"{i}\n" for i in range(99981, 100001))


def test_hook_stdin_is_dev_null(h: Harness) -> None:
    assert h.hook("cat; echo end").output_tail == "end\n"


def test_hook_is_not_a_run(h: Harness) -> None:
    h.launcher.start_hook(hook_request("sleep 30"))
    assert h.launcher.hooks_running == 1
    assert not h.launcher.running  # the engine counts runs with it
    h.launcher.stop_all("shutdown", grace=1)
    drive(h.selector, h.launcher)


def test_hook_timeout_stops_its_whole_group(h: Harness) -> None:
    started = time.monotonic()
    outcome = h.hook("sleep 60 & sleep 30", timeout=1, kill_grace=30)
    assert (outcome.status, outcome.signal) == (Status.TIMED_OUT, signal.SIGTERM)
    assert outcome.reason == "timeout of 1s exceeded"
    assert 1 <= time.monotonic() - started < 10  # SIGTERM sufficed: no wait for the grace
    assert outcome.pid is not None and group_gone(h.launcher, outcome.pid)


def test_hook_timeout_escalates_to_sigkill(h: Harness) -> None:
    outcome = h.hook('trap "" TERM; sleep 30', timeout=0.3, kill_grace=0.3)
    assert (outcome.status, outcome.signal) == (Status.TIMED_OUT, signal.SIGKILL)


def test_hook_deadlines_follow_the_injected_clock(tmp_path: Path) -> None:
    now = [1000.0]
    selector = selectors.DefaultSelector()
    launcher = Launcher(selector, monotonic=lambda: now[0])
    launcher.start_hook(hook_request("sleep 300", timeout=60, kill_grace=5))
    assert launcher.next_deadline() == 1060.0
    now[0] = 1060.0
    launcher.check_deadlines()
    assert launcher.next_deadline() == 1065.0  # SIGTERM sent, SIGKILL due after the grace
    _, [outcome] = drive(selector, launcher)
    assert (outcome.status, outcome.duration) == (Status.TIMED_OUT, 60.0)
    assert launcher.next_deadline() is None
    selector.close()


def test_stop_all_kills_a_running_hook_with_its_group(h: Harness) -> None:
    h.launcher.start_hook(hook_request("sleep 60 & sleep 60 & wait"))
    h.start(make_job("sleep 300"))
    h.launcher.stop_all("shutdown", grace=30)
    [run], [hook] = drive(h.selector, h.launcher)
    assert (run.status, run.reason) == (Status.CANCELLED, "shutdown")
    assert (hook.status, hook.reason, hook.signal) == (Status.KILLED, "shutdown", signal.SIGTERM)
    assert hook.pid is not None and group_gone(h.launcher, hook.pid)


def test_hook_whose_shell_is_missing_is_a_spawn_error(h: Harness) -> None:
    h.launcher.start_hook(hook_request("true", shell="/nonexistent/sh"))
    assert not h.launcher.hooks_running
    [outcome] = h.launcher.drain_hooks()
    assert (outcome.status, outcome.pid, outcome.exit_code) == (Status.SPAWN_ERROR, None, None)
    assert outcome.reason == "shell '/nonexistent/sh' not found"
    assert len(h.selector.get_map()) == 0


def test_a_chatty_child_gets_a_wide_pipe_and_a_quiet_one_keeps_the_default(h: Harness) -> None:
    h.start(make_job("head -c 600000 /dev/zero; sleep 30"), run_id=1)
    h.start(make_job("echo quiet; sleep 30"), run_id=2)
    runs = h.launcher._runs
    end = time.monotonic() + 10
    while runs[1].capture.total < 600000 or runs[2].capture.total < 6:
        assert time.monotonic() < end, "the output did not arrive"
        for key, mask in h.selector.select(end - time.monotonic()):
            key.data(mask)
    chatty, quiet = runs[1].pipe, runs[2].pipe
    assert chatty is not None and quiet is not None
    # 1 GiB went through at 2.2x cat's time with 64 KiB pipes and reads (BENCHMARKS.md)
    assert fcntl.fcntl(chatty, fcntl.F_GETPIPE_SZ) == 1024 * 1024
    assert runs[1].read_size == 256 * 1024
    assert fcntl.fcntl(quiet, fcntl.F_GETPIPE_SZ) == 64 * 1024
    h.launcher.stop_all("test over", grace=0)
    run_until_done(h.selector, h.launcher)
