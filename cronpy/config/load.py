"""Reading a job file, and the entry points the rest of cronpy calls.

``load_job_file`` reads the file (a regular file; when running as root, one only root can
change, its real path and directories included), ``parse_job_file`` decodes it as UTF-8 and
parses the TOML, hands the document to ``cronpy.config.check`` and, if anything is wrong,
raises one ``ConfigError`` with every problem placed at its line and column by
``cronpy.config.locate``. ``system_timezone`` is the zone of jobs that name none.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path

from cronpy.config.check import Checker, check_document
from cronpy.config.locate import Locator
from cronpy.config.zone import system_timezone
from cronpy.errors import ConfigError, Problem
from cronpy.model import JobFile
from cronpy.trust import untrusted_reason

_TOML_AT = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


def _decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8-sig")  # tolerate the BOM some editors write
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = data[exc.start : exc.start + 1].hex()
        raise ConfigError(
            [
                Problem(
                    path,
                    f"not valid UTF-8: byte 0x{bad} at offset {exc.start}; "
                    "the job file must be encoded as UTF-8",
                    line=line,
                    column=column,
                )
            ]
        ) from None


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cycle collector: parsing 10,000 jobs makes ~10^5 containers and no cycles,
    and the collector would walk them again and again (about 15% of the load time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_job_file(text: str | bytes, path: str = "<string>") -> JobFile:
    """The jobs in ``text``; raises ConfigError listing every problem found."""
    source = _decode(text, path) if isinstance(text, bytes) else text.removeprefix("\ufeff")
    with _no_cyclic_gc():
        return _parse(source, path)


def _parse(source: str, path: str) -> JobFile:
    try:
        doc = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_AT.search(message)
        line = column = None
        if match:
            message = message[: match.start()]
            if match.group(1):
                line, column = int(match.group(1)), int(match.group(2))
            else:
                line = source.count("\n") + 1
        raise ConfigError(
            [Problem(path, f"invalid TOML: {message}", line=line, column=column)]
        ) from None
    except ValueError as exc:  # tomllib lets int() refuse numbers over 4300 digits
        raise ConfigError([Problem(path, f"invalid TOML: {exc}")]) from None
    except RecursionError:
        raise ConfigError(
            [Problem(path, "invalid TOML: arrays or tables nested too deeply")]
        ) from None

    checker = Checker()
    jobs, settings = check_document(doc, checker, system_timezone)
    if checker.pending:
        locator = Locator(source, (p.where for p in checker.pending))
        problems = []
        for p in checker.pending:
            line, column = locator.find(p.where)
            problems.append(Problem(path, p.message, p.job, p.key, line, column))
        # In file order, as an editor would walk them; problems without a line come first.
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise ConfigError(problems)
    return JobFile(path=Path(path), jobs=jobs, settings=settings)


def load_job_file(path: str | Path) -> JobFile:
    """Read and check the job file at ``path``; raises ConfigError listing every problem."""
    name = str(path)
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            # a FIFO or a device would block the read or never end
            raise ConfigError([Problem(name, "is not a regular file, expected a TOML job file")])
        with open(path, "rb") as handle:
            if os.geteuid() == 0:
                refuse_if_others_can_write(os.fstat(handle.fileno()), Path(path), name)
            data = handle.read()
    except FileNotFoundError:
        raise ConfigError([Problem(name, "no such file")]) from None
    except IsADirectoryError:
        raise ConfigError([Problem(name, "is a directory, expected a TOML job file")]) from None
    except PermissionError:
        raise ConfigError([Problem(name, "cannot read the file: permission denied")]) from None
    except OSError as exc:
        raise ConfigError([Problem(name, f"cannot read the file: {exc.strerror or exc}")]) from None
    job_file = parse_job_file(data, name)
    return JobFile(path=Path(path).absolute(), jobs=job_file.jobs, settings=job_file.settings)


def refuse_if_others_can_write(info: os.stat_result, path: Path, name: str) -> None:
    """A root runner executes what the file says: only root may be able to change it, through
    the file itself, a symlink to it, or any directory on its real path (``cronpy.trust``)."""
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(name)
    reason = untrusted_reason(path, info, owners={0, os.geteuid()})
    if reason:
        raise ConfigError(
            [
                Problem(
                    name,
                    f"refusing to run this job file as root: {reason}; make the file and its "
                    "directories owned by root and writable only by root (chmod go-w)",
                )
            ]
        )
