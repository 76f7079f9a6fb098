"""What a job starts with across the ``user =`` boundary, and cron's minimal environment.

Real processes through the launcher. The root-only tests switch to ``nobody``; they build
their files under a 0755 directory in /tmp, since pytest's own tmp dirs are 0700 and
``nobody`` could not even look inside them.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cronpy.launch.env import MINIMAL_PATH, USER_PATH
from cronpy.model import Environment

from .test_launcher import IS_ROOT, Harness, h, make_job, subreaper

__all__ = ["h", "subreaper"]  # fixtures shared with test_launcher

needs_root = pytest.mark.skipif(not IS_ROOT, reason="switching users needs root")
NOBODY = "nobody"


def spawn_error(h: Harness, **job: object) -> str:
    outcome = h.launcher.start(h.request(make_job("true", **job)))
    assert not isinstance(outcome, int), "the job should not have started"
    assert outcome.reason is not None
    return outcome.reason


def run_env(h: Harness, **job: object) -> tuple[dict[str, str], str]:
    """The environment and working directory the job's process saw."""
    outcome = h.run(make_job("env; echo CWD=$(pwd)", **job))
    assert outcome.exit_code == 0, (outcome.reason, h.log(h.count))
    lines = h.log(h.count).decode().splitlines()
    env = dict(line.split("=", 1) for line in lines if "=" in line)
    return env, env.pop("CWD")


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Path]:
    """A root-owned 0755 directory that ``nobody`` can traverse."""
    directory = Path(tempfile.mkdtemp(prefix="cronpy-env-", dir="/tmp"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


def owned_by_nobody(path: Path) -> Path:
    user = pwd.getpwnam(NOBODY)
    os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
    return path


# --- env_file across the user boundary ----------------------------------------------------


@needs_root
def test_a_user_jobs_env_file_cannot_read_what_the_user_cannot(h: Harness, shared: Path) -> None:
    """nobody points their .cronenv at a root-only file: root must not read it for them."""
    secret = shared / "secret.env"
    secret.write_text("SECRET=hunter2\n")
    secret.chmod(0o600)
    home = shared / "home"
    home.mkdir()
    owned_by_nobody(home)
    link = home / ".cronenv"
    link.symlink_to(secret)
    owned_by_nobody(link)
    reason = spawn_error(h, user=NOBODY, env_file=link)
    assert reason == f"env_file {link}: as user 'nobody': permission denied"
    assert "hunter2" not in h.log(h.count).decode()


@needs_root
def test_a_user_jobs_own_env_file_is_read(h: Harness, shared: Path) -> None:
    own = shared / "own.env"
    own.write_text("FROM_FILE=yes\n")
    own.chmod(0o600)
    owned_by_nobody(own)
    env, _ = run_env(h, user=NOBODY, env_file=own)
    assert env["FROM_FILE"] == "yes"


@needs_root
def test_a_root_jobs_env_file_follows_the_job_files_rule(h: Harness, shared: Path) -> None:
    good = shared / "good.env"
    good.write_text("A=1\n")
    env, _ = run_env(h, env_file=good)
    assert env["A"] == "1"

    theirs = shared / "theirs.env"
    theirs.write_text("A=1\n")
    owned_by_nobody(theirs)
    assert spawn_error(h, env_file=theirs) == (
        f"env_file {theirs}: refusing it for a root job: {theirs} is owned by uid 65534, "
        "not root; make it and its directories owned by root and writable only by root"
    )

    open_dir = shared / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    planted = open_dir / "job.env"
    planted.write_text("A=1\n")
    link = shared / "link.env"
    link.symlink_to(planted)
    reason = spawn_error(h, env_file=link)
    assert f"its directory {open_dir} is writable by group or others (mode 0777)" in reason


# --- the environment a job starts from ------------------------------------------------------


@needs_root
def test_a_user_job_starts_from_a_clean_environment(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNNER_SECRET", "root's")
    nobody = pwd.getpwnam(NOBODY)
    env, _ = run_env(h, user=NOBODY, env={"OWN": "job"})
    assert "RUNNER_SECRET" not in env
    own = {k: v for k, v in env.items() if not k.startswith("CRONPY_") and k != "PWD"}
    # PWD and SHLVL are the shell's own; everything else comes from the launcher
    own.pop("SHLVL", None)
    assert own == {
        "HOME": nobody.pw_dir,
        "LOGNAME": NOBODY,
        "USER": NOBODY,
        "SHELL": nobody.pw_shell,
        "PATH": USER_PATH,
        "OWN": "job",
    }
    assert env["CRONPY_JOB"] == "job"


def test_minimal_environment_is_crons(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_RUNNER", "runner")
    me = pwd.getpwuid(os.geteuid())
    env, cwd = run_env(h, environment=Environment.MINIMAL, env={"OWN": "job"})
    assert env["PATH"] == MINIMAL_PATH == "/usr/bin:/bin"
    assert "FROM_RUNNER" not in env
    assert (env["HOME"], env["USER"], env["LOGNAME"]) == (me.pw_dir, me.pw_name, me.pw_name)
    assert env["SHELL"] == me.pw_shell
    assert env["OWN"] == "job" and env["CRONPY_RUN_ID"] == str(h.count)
    assert cwd == (me.pw_dir if os.path.isdir(me.pw_dir) else "/")


def test_minimal_environment_keeps_an_explicit_cwd(h: Harness) -> None:
    _, cwd = run_env(h, environment=Environment.MINIMAL, cwd=h.tmp)
    assert cwd == str(h.tmp)


def test_inherit_is_the_default_and_keeps_the_runners_environment(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FROM_RUNNER", "runner")
    env, cwd = run_env(h)
    assert env["FROM_RUNNER"] == "runner" and env["PATH"] == os.environ["PATH"]
    assert cwd == os.getcwd()


@needs_root
def test_minimal_environment_of_a_user_job_is_that_users(h: Harness) -> None:
    nobody = pwd.getpwnam(NOBODY)
    env, cwd = run_env(h, user=NOBODY, environment=Environment.MINIMAL)
    assert (env["HOME"], env["USER"], env["PATH"]) == (nobody.pw_dir, NOBODY, MINIMAL_PATH)
    assert cwd == (nobody.pw_dir if os.path.isdir(nobody.pw_dir) else "/")


def test_env_file_that_is_a_fifo_does_not_hang(h: Harness) -> None:
    fifo = h.tmp / "fifo.env"
    os.mkfifo(fifo)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert spawn_error(h, env_file=fifo) == f"env_file {fifo}: not a regular file"
