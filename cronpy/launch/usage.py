"""What a run's processes cost, from the rusage the kernel hands back when they are reaped:
no polling, no /proc walk. wait4 of the main process includes every descendant it waited
for; the orphans of its group that the runner reaps (as PID 1 or a subreaper) add theirs."""

from __future__ import annotations

import os
import resource
import subprocess
from dataclasses import dataclass


@dataclass(frozen=True)
class Usage:
    cpu_seconds: float = 0.0  # user + system
    max_rss_kib: int = 0  # the largest peak of one process (Linux reports ru_maxrss in KiB)

    @classmethod
    def of(cls, rusage: resource.struct_rusage) -> Usage:
        return cls(rusage.ru_utime + rusage.ru_stime, rusage.ru_maxrss)

    def plus(self, other: Usage | None) -> Usage:
        if other is None:
            return self
        return Usage(self.cpu_seconds + other.cpu_seconds, max(self.max_rss_kib, other.max_rss_kib))


def wait_usage(popen: subprocess.Popen[bytes]) -> tuple[int, Usage]:
    """Reap ``popen``'s exited process with wait4: its return code (as Popen has it) and its
    usage. Popen.wait would throw the rusage away."""
    try:
        _, status, rusage = os.wait4(popen.pid, 0)
    except ChildProcessError:  # reaped elsewhere already: the code is known, the usage is not
        return popen.wait(), Usage()
    popen.returncode = os.waitstatus_to_exitcode(status)
    return popen.returncode, Usage.of(rusage)
