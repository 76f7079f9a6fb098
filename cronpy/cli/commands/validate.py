"""``cronpy validate``: load a job file exactly as the runner would."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cronpy.errors import Problem


@dataclass(frozen=True)
class ValidateResult:
    path: Path
    jobs: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"file": str(self.path), "ok": True, "jobs": list(self.jobs), "problems": []}


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
        }


def validate(path: Path) -> ValidateResult:
    """Raises ConfigError carrying every problem in the file (the CLI prints one per line).
    The file is loaded as ``cronpy run`` loads it, so whatever run refuses from the file alone
    (its store URL included, see ``cronpy.model.storeurl``) is refused here with the same words."""
    from cronpy.config import load_job_file

    return ValidateResult(path=path, jobs=tuple(load_job_file(path).jobs))
