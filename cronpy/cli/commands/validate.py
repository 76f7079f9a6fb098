"""``cronpy validate``: load a job file exactly as the runner would, then lint it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cronpy.config.lint import LintWarning
    from cronpy.errors import Problem


@dataclass(frozen=True)
class ValidateResult:
    path: Path
    jobs: tuple[str, ...]
    warnings: tuple[LintWarning, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "ok": True,
            "jobs": list(self.jobs),
            "problems": [],
            "warnings": [w.to_json() for w in self.warnings],
        }


@dataclass(frozen=True)
class Refused:
    """An invalid file, for ``--json``: the problems as data (the human form is the
    ConfigError's lines on stderr, printed by the CLI boundary)."""

    path: Path
    problems: tuple[Problem, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "ok": False,
            "jobs": [],
            "problems": [
                {
                    "file": p.path,
                    "line": p.line,
                    "column": p.column,
                    "job": p.job,
                    "key": p.key,
                    "message": p.message,
                }
                for p in self.problems
            ],
            "warnings": [],
        }


def validate(path: Path, *, now: datetime) -> ValidateResult:
    """Raises ConfigError carrying every problem in the file (the CLI prints one per line).
    The file is loaded as ``cronpy run`` loads it, so whatever run refuses from the file alone
    (its store URL included, see ``cronpy.model.storeurl``) is refused here with the same
    words. Warnings (``cronpy.config.lint``) about fire times are computed from ``now``."""
    from cronpy.config import load_job_file
    from cronpy.config.lint import lint

    job_file = load_job_file(path)
    source = Path(path).read_bytes().decode("utf-8-sig")
    warnings = lint(job_file, source, now=now)
    return ValidateResult(path=path, jobs=tuple(job_file.jobs), warnings=tuple(warnings))
