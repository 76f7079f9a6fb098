"""``cronpy edit``: ``crontab -e`` for a job file.

The editor works on a copy next to the file (same directory, so the final ``os.replace`` is one
atomic rename on one filesystem); the copy is checked exactly as the runner would load it, and
only a valid copy replaces the file, with the file's mode and owner. The live file is never
half-written and never invalid. Then the runner is asked to reload, and its answer reported.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cronpy.errors import ConfigError, UsageError

RELOAD_WAIT = 10.0  # seconds to wait for the runner's answer; it answers within one tick


@dataclass(frozen=True)
class EditResult:
    path: Path
    saved: bool
    message: str
    exit_code: int
    reload: str | None = None  # the runner's answer, when one was asked

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "saved": self.saved,
            "message": self.message,
            "reload": self.reload,
        }


Editor = Callable[[Path], int]
Ask = Callable[[str], str]
Reload = Callable[[Path], tuple[int, str]]  # the edited file -> (exit code, what happened)


def edit_file(
    path: Path,
    *,
    editor: Editor,
    ask: Ask | None,
    reload: Reload,
    problems_out: Callable[[str], None],
) -> EditResult:
    """Edit ``path`` through a checked copy. ``ask`` None: no terminal to ask on, so a copy
    with problems is discarded (exit 2) instead of offered for another edit."""
    real = Path(os.path.realpath(path))  # replace a symlink's target, not the link
    try:
        original = real.read_bytes()
        info = os.stat(real)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    fd, name = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".toml")
    copy = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(original)
        while True:
            status = editor(copy)
            if status != 0:
                return EditResult(
                    path, False, f"the editor exited with status {status}; {path} is unchanged", 2
                )
            edited = copy.read_bytes()
            if edited == original:
                return EditResult(path, False, f"no changes; {path} is unchanged", 0)
            problems = _problems(edited, str(path))
            if not problems:
                break
            for problem in problems:
                problems_out(problem)
            if ask is None or not _yes(ask("Edit again? [Y/n] (n discards your changes) ")):
                return EditResult(path, False, f"changes discarded; {path} is unchanged", 2)
        _keep_mode_and_owner(copy, info)
        os.replace(copy, real)
    finally:
        copy.unlink(missing_ok=True)
    code, answer = reload(real)
    return EditResult(path, True, f"saved {path}; {answer}", code, answer)


def _problems(data: bytes, name: str) -> list[str]:
    from cronpy.config import parse_job_file

    try:
        parse_job_file(data, name)
    except ConfigError as exc:
        return [str(p) for p in exc.problems]
    return []


def _yes(answer: str) -> bool:
    return answer.strip().lower() in ("", "y", "yes")


def _keep_mode_and_owner(copy: Path, info: os.stat_result) -> None:
    os.chmod(copy, info.st_mode & 0o7777)
    if (info.st_uid, info.st_gid) != (os.geteuid(), os.getegid()):
        try:
            os.chown(copy, info.st_uid, info.st_gid)
        except PermissionError:
            raise UsageError(
                f"cannot give the new file the owner of the old one (uid {info.st_uid}); "
                "the file is unchanged"
            ) from None


def reload_runner(
    state_dir: Path, edited: Path, *, sleep: Callable[[float], None] = time.sleep
) -> tuple[int, str]:
    """Ask the runner of ``state_dir`` to reload and wait for its answer: (exit code, what)."""
    from contextlib import closing
    from datetime import UTC, datetime

    from cronpy.cli.commands.common import open_state
    from cronpy.model import ControlKind
    from cronpy.runtime.statedir import runner_alive, send_wake

    holder = runner_alive(state_dir)
    if holder is None:
        return 0, "no runner is up, so nothing was reloaded"
    runs = holder.get("job_file")
    if runs is not None and Path(runs) != edited:
        return 0, f"the runner runs {runs}, not this file: not reloaded"
    with closing(open_state(state_dir, write=True)) as store:
        control_id = store.push_control(ControlKind.RELOAD, datetime.now(UTC))
        send_wake(state_dir)
        deadline = time.monotonic() + RELOAD_WAIT
        while time.monotonic() < deadline:
            control = store.get_control(control_id)
            if control is not None and control.taken_at is not None:
                answer = control.result or "no answer given"
                code = 2 if answer.startswith("rejected") else 0
                return code, f"the runner says: {answer}"
            sleep(0.1)
    return 1, f"the runner did not answer the reload within {RELOAD_WAIT:g}s"


def default_file(state_dir: Path) -> Path:
    """The file the live runner runs, for ``cronpy edit`` without FILE."""
    from cronpy.runtime.statedir import runner_alive

    holder = runner_alive(state_dir)
    runs = None if holder is None else holder.get("job_file")
    if runs is None:
        raise UsageError(
            "give the job file to edit: no runner is up on this state directory"
            if holder is None
            else "give the job file to edit: the runner did not record which file it runs"
        )
    return Path(runs)
