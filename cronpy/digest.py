"""SHA-256 and BLAKE2b from CPython's own modules, not from OpenSSL. Imports nothing of ours.

``hashlib`` loads OpenSSL's libcrypto as soon as it is imported: 3.4 MiB resident in a runner
that needs only stable digests (the ``H`` of a schedule, the jitter of a start, the job file's
fingerprint, lock and cgroup names). CPython ships the same algorithms as built-in modules
(``_sha256``, ``_sha2`` from 3.12, ``_blake2``); they give the same bytes, so every ``H`` value
stays what it was. Where a build lacks them, hashlib's are used.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module
from typing import Protocol


class Digest(Protocol):
    def digest(self) -> bytes: ...

    def hexdigest(self) -> str: ...


def _sha256_function() -> Callable[[bytes], Digest]:
    try:
        module = import_module("_sha2" if sys.version_info >= (3, 12) else "_sha256")
    except ImportError:  # pragma: no cover - a CPython built without its own SHA-2
        import hashlib

        return hashlib.sha256
    function: Callable[[bytes], Digest] = module.sha256
    return function


sha256 = _sha256_function()

try:
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - a CPython built without its own BLAKE2
    from hashlib import blake2b

__all__ = ["Digest", "blake2b", "sha256"]
