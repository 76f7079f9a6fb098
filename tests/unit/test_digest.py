"""cronpy.digest: the same digests as hashlib (every ``H`` and jitter stays what it was),
without loading OpenSSL's libcrypto into the runner."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from cronpy.digest import blake2b, sha256

SAMPLES = [b"", b"minute\0backup", "hour\0日次".encode(), bytes(range(256)) * 40]


@pytest.mark.parametrize("data", SAMPLES)
def test_same_bytes_as_hashlib(data: bytes) -> None:
    assert sha256(data).digest() == hashlib.sha256(data).digest()
    assert sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
    assert blake2b(data, digest_size=8).digest() == hashlib.blake2b(data, digest_size=8).digest()


def test_the_runners_modules_do_not_load_libcrypto() -> None:
    """What a runner imports to plan and launch (H spreading, jitter, lock and cgroup names, the
    job file's fingerprint, the runner lock) maps no libcrypto: 3.4 MiB resident otherwise."""
    code = (
        "import cronpy.runtime.start, cronpy.runtime.fleet, cronpy.launch.cgroups,"
        " cronpy.engine.missed, cronpy.schedule.parse, cronpy.runtime.statedir\n"
        "import tempfile, pathlib\n"
        "from cronpy.runtime.statedir import RunnerLock\n"
        "from cronpy.runtime.lock import JobFileLock\n"
        "from cronpy.schedule import parse\n"
        "with tempfile.TemporaryDirectory() as d:\n"
        "    RunnerLock(pathlib.Path(d)).acquire()\n"
        "    JobFileLock(pathlib.Path(d) / 'jobs.toml', pathlib.Path(d))\n"
        "print(any('libcrypto' in line for line in open('/proc/self/maps')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
