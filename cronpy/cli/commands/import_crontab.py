"""``cronpy import-crontab``: a crontab (a file, or standard input) as a cronpy job file."""

from __future__ import annotations

import os
import pwd
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from cronpy.crontab import Conversion, convert_crontab, is_system_file
from cronpy.errors import ConfigError, CronpyError, UsageError


@dataclass(frozen=True)
class ImportResult:
    source: str
    conversion: Conversion
    output: Path | None  # where the job file was written; None: it goes to stdout

    @property
    def exit_code(self) -> int:
        """0 every line converted, 1 some were skipped, 2 nothing usable."""
        if not self.conversion.jobs:
            return 2
        return 1 if self.conversion.skipped else 0

    def to_json(self) -> dict[str, Any]:
        c = self.conversion
        return {
            "source": self.source,
            "format": "system" if c.system else "user",
            "lines": c.entries,
            "jobs": list(c.jobs),
            "skipped": [{"line": s.line, "message": s.message} for s in c.skipped],
            "output": None if self.output is None else str(self.output),
        }


def known_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except (KeyError, UnicodeEncodeError, ValueError):
        return False
    return True


def import_crontab(
    source: str | None,
    *,
    stdin: TextIO,
    system: bool | None,
    output: Path | None = None,
    force: bool = False,
) -> ImportResult:
    """Read ``source`` (a path, or ``-``/None for ``stdin``), convert it and, with ``output``,
    write the job file there (never over an existing file unless ``force``)."""
    if output is not None and output.exists() and not force:
        raise UsageError(f"{output} exists; give --force to replace it")
    path = None if source in (None, "-") else Path(source)
    name = "standard input" if path is None else str(path)
    try:
        text = stdin.read() if path is None else path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{name} is not UTF-8 text; expected a crontab") from None
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}") from None
    if system is None:
        system = is_system_file(text, path, known_user)
    conversion = convert_crontab(text, system=system, known_user=known_user, source=name)
    if conversion.jobs:
        _check(conversion.text)
        if output is not None:
            _write(output, conversion.text)
    return ImportResult(name, conversion, output)


def _check(text: str) -> None:
    """What we made must load: a converter bug must not hand out a broken job file."""
    from cronpy.config import parse_job_file

    try:
        parse_job_file(text, "<converted>")
    except ConfigError as exc:
        lines = "; ".join(str(p) for p in exc.problems)
        raise CronpyError(
            f"internal error: the converted job file does not load: {lines}"
        ) from None


def _write(path: Path, text: str) -> None:
    """All at once: a reader never sees half a file."""
    directory = path.absolute().parent
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
