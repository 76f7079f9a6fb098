"""``cronpy validate``: load a job file exactly as the runner would."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ValidateResult:
    path: Path
    jobs: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"file": str(self.path), "ok": True, "jobs": list(self.jobs)}


def validate(path: Path) -> ValidateResult:
    """Raises ConfigError carrying every problem in the file (the CLI prints one per line)."""
    from cronpy.config import load_job_file

    return ValidateResult(path=path, jobs=tuple(load_job_file(path).jobs))
