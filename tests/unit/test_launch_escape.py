"""Processes that leave their run's process group must still die with the run (issue 17).

Real processes through an in-process launcher made the way a runner makes it: a child
subreaper, with and without a cgroup per run. Each command writes the pids of what tries to
escape to files; after the run ends (or times out, or is cancelled) none of them may live.
"""

from __future__ import annotations

import ctypes
import os
import selectors
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cronpy.launch import Launcher
from cronpy.launch.cgroups import own_cgroup
from cronpy.model import LaunchRequest, Status

from .test_launcher import PR_SET_CHILD_SUBREAPER, make_job, run_until_done

BASH = shutil.which("bash")


@pytest.fixture(scope="module", autouse=True)
def restore_subreaper() -> Iterator[None]:
    """The launcher makes this process a subreaper, as it does a runner; undo it afterwards."""
    yield
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


@pytest.fixture(params=["walk", "cgroup"])
def launcher(request: pytest.FixtureRequest) -> Iterator[Launcher]:
    selector = selectors.DefaultSelector()
    use_cgroups = request.param == "cgroup"
    launcher = Launcher(selector, subreaper=True, cgroups=use_cgroups)
    if use_cgroups and launcher.cgroups is None:
        pytest.skip(
            f"NO CGROUP TEST: cgroup v2 is not delegated to this process (own cgroup: "
            f"{own_cgroup()}); only the process walk was tested"
        )
    assert launcher.subreaper
    try:
        yield launcher
        assert not launcher.running
    finally:
        launcher.close()
        selector.close()


def request(tmp: Path, command: str, run_id: int = 1, **job: object) -> LaunchRequest:
    return LaunchRequest(
        run_id=run_id,
        job=make_job(command, **job),
        scheduled_at=None,
        attempt=1,
        log_path=tmp / f"run-{run_id}.log",
    )


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def read_pids(*files: Path, within: float = 5.0) -> list[int]:
    end = time.monotonic() + within
    while not all(f.exists() and f.read_text().strip() for f in files):
        assert time.monotonic() < end, f"the command never wrote {files}"
        time.sleep(0.01)
    return [int(f.read_text()) for f in files]


def assert_gone(launcher: Launcher, pids: list[int], within: float = 5.0) -> None:
    """Every pid is dead and reaped (no zombie of ours is left behind either)."""
    end = time.monotonic() + within
    while any(alive(p) or Path(f"/proc/{p}").exists() for p in pids):
        launcher.reap_orphans()  # what the runner does on SIGCHLD
        if time.monotonic() > end:
            survivors = [p for p in pids if alive(p)]
            for pid in survivors:
                os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"survived their run: {survivors}, all: {pids}")
        time.sleep(0.01)


def test_coreutils_timeout_in_its_own_group_dies_at_the_run_timeout(
    launcher: Launcher, tmp_path: Path
) -> None:
    """`timeout` puts itself in a new process group; the run's timeout must reach it too."""
    outer, inner = tmp_path / "timeout.pid", tmp_path / "sleep.pid"
    script = tmp_path / "escape.sh"
    script.write_text(
        f"echo $$ > {outer}; exec timeout 1002 sh -c 'echo $$ > {inner}; exec sleep 1002'\n"
    )
    launcher.start(request(tmp_path, f"sh {script}; echo done", timeout=1.0, kill_grace=1.0))
    [outcome] = run_until_done(launcher._selector, launcher)
    assert outcome.status is Status.TIMED_OUT
    pids = read_pids(outer, inner)
    assert_gone(launcher, pids)


@pytest.mark.skipif(BASH is None, reason="needs bash for job control")
def test_job_control_group_dies_when_the_run_succeeds(launcher: Launcher, tmp_path: Path) -> None:
    """`set -m` gives a background job its own process group."""
    pidfile = tmp_path / "sleep.pid"
    launcher.start(request(tmp_path, f"set -m; sleep 1003 & echo $! > {pidfile}", shell=BASH))
    [outcome] = run_until_done(launcher._selector, launcher)
    assert outcome.status is Status.SUCCEEDED
    assert_gone(launcher, read_pids(pidfile))


def test_setsid_child_dies_when_the_run_succeeds(launcher: Launcher, tmp_path: Path) -> None:
    """`setsid` makes a new session: neither group nor session signals reach it."""
    pidfile = tmp_path / "sleep.pid"
    launcher.start(request(tmp_path, f"setsid sleep 1004 & echo $! > {pidfile}"))
    [outcome] = run_until_done(launcher._selector, launcher)
    assert outcome.status is Status.SUCCEEDED
    assert_gone(launcher, read_pids(pidfile))


def test_double_forked_daemon_dies_when_the_run_succeeds(
    launcher: Launcher, tmp_path: Path
) -> None:
    """Its parent exits at once: it is reparented to the runner before the run ends."""
    pidfile = tmp_path / "daemon.pid"
    command = f"sh -c 'setsid sh -c \"echo \\$\\$ > {pidfile}; exec sleep 1008\" &'; sleep 0.2"
    launcher.start(request(tmp_path, command))
    [outcome] = run_until_done(launcher._selector, launcher)
    assert outcome.status is Status.SUCCEEDED
    assert_gone(launcher, read_pids(pidfile))


def test_cancel_kills_a_child_in_another_session(launcher: Launcher, tmp_path: Path) -> None:
    pidfile = tmp_path / "sleep.pid"
    launcher.start(request(tmp_path, f"setsid sleep 1005 & echo $! > {pidfile}; wait"))
    [pid] = read_pids(pidfile)
    assert alive(pid)
    launcher.stop(1, "cancelled by test", grace=2.0)
    [outcome] = run_until_done(launcher._selector, launcher)
    assert outcome.status is Status.CANCELLED
    assert_gone(launcher, [pid])


def test_a_run_does_not_kill_another_runs_escaped_child(launcher: Launcher, tmp_path: Path) -> None:
    """Orphans are told apart by their CRONPY_RUN_ID: one run's end spares the other's."""
    mine, theirs = tmp_path / "mine.pid", tmp_path / "theirs.pid"
    launcher.start(request(tmp_path, f"setsid sleep 1009 & echo $! > {theirs}; wait", run_id=2))
    launcher.start(request(tmp_path, f"setsid sleep 1010 & echo $! > {mine}", run_id=1))
    [their_pid, my_pid] = read_pids(theirs, mine)
    end = time.monotonic() + 5
    while 1 in launcher.running:
        assert time.monotonic() < end
        for key, mask in launcher._selector.select(0.1):
            key.data(mask)
    assert_gone(launcher, [my_pid])
    assert alive(their_pid)
    launcher.stop(2, "done", grace=1.0)
    run_until_done(launcher._selector, launcher)
    assert_gone(launcher, [their_pid])


def test_the_state_dir_given_to_runs_is_its_real_path(tmp_path: Path) -> None:
    real = tmp_path / "state"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    selector = selectors.DefaultSelector()
    launcher = Launcher(selector, state_dir=link)
    req = request(tmp_path, 'printf %s "$CRONPY_STATE_DIR"')
    req = LaunchRequest(**{**req.__dict__, "extra_env": {"CRONPY_STATE_DIR": str(link)}})
    launcher.start(req)
    run_until_done(selector, launcher)
    assert (tmp_path / "run-1.log").read_text() == str(real)
