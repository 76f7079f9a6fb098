"""Facts about this machine the runner keys state by: the boot (for ``@reboot``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path


def boot_identity() -> tuple[str | None, datetime | None]:
    """This boot's id and start time, which ``@reboot`` runs are keyed by."""
    try:
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None, None
    boot_time = None
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                boot_time = datetime.fromtimestamp(int(line.split()[1]), UTC)
    except OSError:
        pass
    return boot_id, boot_time
