"""Reading a job's ``env_file`` with the rights of whoever the job runs as.

A root runner must not become a way to read root's files: a ``user =`` job's env_file is
opened by a forked child that has dropped to that user (groups, gid, uid) and passes the text
back over a pipe, so the kernel applies that user's permissions to every part of the path,
symlinks included. A root job's env_file feeds a root process, so it follows the job file's
rule (``cronpy.trust``): only root may be able to change it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import stat

from cronpy.trust import untrusted_reason

LIMIT = 1024 * 1024  # an environment file is a few lines; anything this big is a mistake


class EnvFileError(Exception):
    """The env_file cannot be used; the message says why, without the path."""


def _lower(error: OSError) -> str:
    return (error.strerror or str(error)).lower()


def _read_fd(fd: int) -> bytes:
    """At most LIMIT + 1 bytes from ``fd``: one more than allowed tells a too-big file."""
    chunks: list[bytes] = []
    size = 0
    while size <= LIMIT:
        chunk = os.read(fd, LIMIT + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _open_regular(path: str) -> tuple[int, os.stat_result]:
    # O_NONBLOCK: a FIFO planted where the file should be must not hang the runner.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise EnvFileError("is a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file")
    return fd, info


def read_as_root(path: str) -> bytes:
    """A root job's env_file: read only when no one but root can change it."""
    try:
        fd, info = _open_regular(path)
        try:
            reason = untrusted_reason(path, info)
            if reason is not None:
                raise EnvFileError(
                    f"refusing it for a root job: {reason}; make it and its directories "
                    "owned by root and writable only by root"
                )
            return _read_fd(fd)
        finally:
            os.close(fd)
    except OSError as e:
        raise EnvFileError(_lower(e)) from e


def read_plain(path: str) -> bytes:
    """The env_file of a runner that is not root: its own rights are the job's."""
    try:
        fd, _ = _open_regular(path)
        try:
            return _read_fd(fd)
        finally:
            os.close(fd)
    except OSError as e:
        raise EnvFileError(_lower(e)) from e


def read_as_user(path: str, user: pwd.struct_passwd) -> bytes:
    """The env_file of a job that runs as ``user``, opened by a child with that user's rights.

    The child speaks one status byte (``0`` then the content, ``1`` then the reason) and exits;
    it never returns into Python code of ours, whatever happens.
    """
    groups = os.getgrouplist(user.pw_name, user.pw_gid)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child, measured by its answer
        code = 1
        try:
            os.close(read_end)
            try:
                os.setgroups(groups)
                os.setgid(user.pw_gid)
                os.setuid(user.pw_uid)
                fd, _ = _open_regular(path)
                message = b"0" + _read_fd(fd)
                code = 0
            except OSError as e:
                message = b"1" + _lower(e).encode()
            except EnvFileError as e:
                message = b"1" + str(e).encode()
            view = memoryview(message)
            while view:
                view = view[os.write(write_end, view) :]
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        answer = b""
        while chunk := os.read(read_end, 1 << 16):
            answer += chunk
    finally:
        os.close(read_end)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    if answer[:1] == b"0":
        return answer[1:]
    reason = answer[1:].decode("utf-8", "replace") or "the reading process failed"
    raise EnvFileError(f"as user {user.pw_name!r}: {reason}")


def env_file_text(path: str, user: pwd.struct_passwd | None) -> str:
    """The env_file's text, read with the rights the job will have."""
    if user is not None:
        data = read_as_user(path, user)
    elif os.geteuid() == 0:
        data = read_as_root(path)
    else:
        data = read_plain(path)
    if len(data) > LIMIT:
        raise EnvFileError(f"larger than {LIMIT // 1024} KiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise EnvFileError("not UTF-8 text") from None
