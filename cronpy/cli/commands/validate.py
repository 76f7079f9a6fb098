"""``cronpy validate``: load a job file exactly as the runner would, then lint it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cronpy.config.lint import LintWarning


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
            "warnings": [w.to_json() for w in self.warnings],
        }


def validate(path: Path, *, now: datetime) -> ValidateResult:
    """Raises ConfigError carrying every problem in the file (the CLI prints one per line);
    warnings (``cronpy.config.lint``) about fire times are computed from ``now``."""
    from cronpy.config import load_job_file
    from cronpy.config.lint import lint

    job_file = load_job_file(path)
    source = Path(path).read_bytes().decode("utf-8-sig")
    warnings = lint(job_file, source, now=now)
    return ValidateResult(path=path, jobs=tuple(job_file.jobs), warnings=tuple(warnings))
