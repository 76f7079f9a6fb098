"""What a job's process starts with: its argv, environment, working directory and user.

Everything that can make a start fail before fork (an unreadable ``env_file``, a missing
``cwd``, an unknown user) is checked here and raised as a SpawnError whose message is the
precise reason recorded with the run; ``popen_failure`` words what Popen itself raised.
"""

from __future__ import annotations

import os
import pwd
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cronpy.launch.envfile import EnvFileError, env_file_text
from cronpy.model import Environment, LaunchRequest


class SpawnError(Exception):
    """A process cannot be started; the message is the precise reason recorded with it."""


def describe(error: OSError) -> str:
    """An OS error as a reason reads in a sentence: ``no such file or directory``."""
    return (error.strerror or str(error)).lower()


# --- environment files -------------------------------------------------------------------

_ENV_LINE = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)")
_DOUBLE = re.compile(r'"((?:[^"\\]|\\.)*)"\s*(?:#.*)?')
_SINGLE = re.compile(r"'([^']*)'\s*(?:#.*)?")
_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "$": "$", "`": "`"}


def parse_env(text: str) -> dict[str, str]:
    """Parse ``KEY=VALUE`` lines as systemd's EnvironmentFile and dotenv files write them.

    Blank lines and lines starting with ``#`` are skipped; ``export`` may prefix a line;
    a value may be wrapped in single quotes (literal) or double quotes (backslash escapes).
    Raises ValueError naming the line for anything else.
    """
    env: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _ENV_LINE.fullmatch(line)
        if match is None:
            raise ValueError(f"line {number}: expected KEY=VALUE, got {line!r}")
        key, value = match.groups()
        if value.startswith('"'):
            quoted = _DOUBLE.fullmatch(value)
            if quoted is None:
                raise ValueError(f"line {number}: unterminated double quote in {key}")
            value = _ESCAPE.sub(lambda m: _ESCAPES.get(m[1], m[0]), quoted[1])
        elif value.startswith("'"):
            quoted = _SINGLE.fullmatch(value)
            if quoted is None:
                raise ValueError(f"line {number}: unterminated single quote in {key}")
            value = quoted[1]
        env[key] = value
    return env


def _read_env_file(path: Path, user: pwd.struct_passwd | None) -> dict[str, str]:
    try:
        return parse_env(env_file_text(str(path), user))
    except (EnvFileError, ValueError) as e:
        raise SpawnError(f"env_file {path}: {e}") from e


# cron's PATH for every job; a `user =` job that inherits gets /usr/local/bin first, as a
# login would, but nothing else of the root runner's environment.
MINIMAL_PATH = "/usr/bin:/bin"
USER_PATH = "/usr/local/bin:/usr/bin:/bin"


def _runner_account() -> pwd.struct_passwd:
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid)
    except KeyError:  # a uid without a passwd entry (containers): what the process knows
        home = os.environ.get("HOME", "/")
        return pwd.struct_passwd((str(uid), "x", uid, os.getegid(), "", home, "/bin/sh"))


def clean_env(account: pwd.struct_passwd, path: str) -> dict[str, str]:
    """What a login of ``account`` starts with, as cron gives it to a job."""
    return {
        "HOME": account.pw_dir,
        "LOGNAME": account.pw_name,
        "USER": account.pw_name,
        "SHELL": account.pw_shell or "/bin/sh",
        "PATH": path,
    }


# --- preparing a spawn -------------------------------------------------------------------


@dataclass(frozen=True)
class Spawn:
    """Everything Popen needs; ``what`` names argv[0] in reasons (``shell`` or ``command``)."""

    argv: list[str]
    env: dict[str, str]
    cwd: str | None = None
    user: pwd.struct_passwd | None = None
    what: str = "command"


def _lookup_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except KeyError:
        raise SpawnError(f"user {name!r} does not exist") from None


def _check_cwd(cwd: Path) -> None:
    try:
        mode = os.stat(cwd).st_mode
    except FileNotFoundError:
        raise SpawnError(f"cwd {cwd} does not exist") from None
    except OSError as e:
        raise SpawnError(f"cwd {cwd}: {describe(e)}") from e
    if not stat.S_ISDIR(mode):
        raise SpawnError(f"cwd {cwd} is not a directory")


def prepare(req: LaunchRequest) -> Spawn:
    """The spawn of a job's run; raises SpawnError when it cannot even be tried."""
    job = req.job
    argv = job.argv
    if not argv or not argv[0]:
        raise SpawnError("command is empty")
    # ``user`` needs root to switch to; without root the runner warns and ignores it.
    user = _lookup_user(job.user) if job.user and os.geteuid() == 0 else None
    minimal = job.environment is Environment.MINIMAL
    # Another user's job never sees the root runner's environment (its secrets included).
    account = user or (_runner_account() if minimal else None)
    if account is None:
        env = dict(os.environ)
    else:
        env = clean_env(account, MINIMAL_PATH if minimal else USER_PATH)
    if job.env_file is not None:
        env.update(_read_env_file(job.env_file, user))
    env.update(job.env)
    env.update(
        CRONPY_JOB=job.name,
        CRONPY_RUN_ID=str(req.run_id),
        CRONPY_SCHEDULED_AT="" if req.scheduled_at is None else req.scheduled_at.isoformat(),
        CRONPY_ATTEMPT=str(req.attempt),
    )
    env.update(req.extra_env)
    cwd: str | None = None
    if job.cwd is not None:
        _check_cwd(job.cwd)
        cwd = str(job.cwd)
    elif account is not None:
        # As cron does: a job run as another user, or with cron's environment, starts in the
        # home directory.
        cwd = account.pw_dir if os.path.isdir(account.pw_dir) else "/"
    what = "shell" if isinstance(job.command, str) else "command"
    return Spawn(argv, env, cwd, user, what)


def popen_failure(error: OSError | ValueError, spawn: Spawn) -> str:
    """Turn what Popen raised into a reason a person can act on."""
    argv0 = spawn.argv[0] if spawn.argv else ""
    if isinstance(error, ValueError):  # e.g. a NUL byte in an argument or variable
        return f"cannot start {argv0!r}: {error}"
    # Popen names the file the child failed on: the executable, the cwd, or none
    # when an earlier step (switching user) failed.
    filename = error.filename
    if spawn.cwd is not None and filename == spawn.cwd:
        return f"cwd {spawn.cwd}: {describe(error)}"
    if filename == argv0:
        if isinstance(error, FileNotFoundError):
            return f"{spawn.what} {argv0!r} not found"
        return f"{spawn.what} {argv0!r}: {describe(error)}"
    if filename is None and spawn.user is not None:
        return f"cannot switch to user {spawn.user.pw_name!r}: {describe(error)}"
    return f"cannot start {argv0!r}: {describe(error)}"


def user_args(user: pwd.struct_passwd | None) -> dict[str, Any]:
    """Popen arguments that switch to ``user``, supplementary groups included.

    Popen's ``user=`` alone would keep root's groups. (Switching identity makes Popen
    fork instead of vfork; only jobs with ``user`` pay that.)
    """
    if user is None:
        return {}
    return {
        "user": user.pw_uid,
        "group": user.pw_gid,
        "extra_groups": os.getgrouplist(user.pw_name, user.pw_gid),
    }
