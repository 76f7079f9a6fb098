"""Detaching ``cronpy run --daemon``: double fork, new session, output to runner.log, and a pipe
on which the daemon tells the waiting parent whether it took the lock."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def daemonize(log_path: Path) -> int:
    """Detach: double fork, new session, working directory /, stdio to ``log_path`` (absolute).

    The parent waits on a pipe until the daemon has taken the lock and says ``ok`` (or why not),
    so ``cronpy run --daemon`` exits 2 naming the holder when another runner is up, like the
    foreground one. Returns the pipe's write end, for ``daemon_ready``."""
    read_fd, write_fd = os.pipe()
    if os.fork() > 0:
        os.close(write_fd)
        with os.fdopen(read_fd, "r") as pipe:
            answer = pipe.read()
        if answer.startswith("ok"):
            os._exit(0)
        code, _, message = answer.partition(" ")
        if not code.isdigit():  # nothing said: it died before it could
            code, message = "2", "cronpy: the daemon died before it was ready\n"
        sys.stderr.write(message)
        os._exit(int(code))
    os.close(read_fd)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    # A daemon that keeps its working directory keeps that file system busy (no umount) and
    # resolves relative paths against wherever it was started. The caller made ours absolute.
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    reopen_log(log_path)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    return write_fd


def reopen_log(log_path: Path) -> None:
    """Point stdout and stderr at ``log_path`` anew (created if logrotate moved it away): the
    old file descriptor would keep writing into the renamed file forever."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def daemon_ready(fd: int, message: str) -> None:
    with os.fdopen(fd, "w") as pipe:
        pipe.write(message)
