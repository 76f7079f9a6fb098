"""What every test starts from: one known environment, whatever the caller's shell holds.

Output (colour, widths), times shown in the local zone and the state directory chosen all
read the environment; a test that passes in one terminal and fails under ``TERM=dumb`` or
``TZ=Asia/Kolkata`` tests the shell, not cronpy. Tests that care set what they need
themselves, over this.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

UNSET = (
    # colour and terminal size, read by color_wanted, rich and click
    "NO_COLOR",
    "FORCE_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "COLORTERM",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "COLUMNS",
    "LINES",
    # where cronpy finds its state, and a fault-injection hook
    "CRONPY_STATE_DIR",
    "CRONPY_FAULT",
    # locale: LANG below is then the only setting
    "LC_ALL",
    "LC_CTYPE",
    "LC_TIME",
    "LANGUAGE",
)

PINNED = {
    "TERM": "xterm-256color",
    "TZ": "UTC",
    "LANG": "C.UTF-8",
}


@pytest.fixture(autouse=True)
def known_environment() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name in UNSET:
            patch.delenv(name, raising=False)
        for name, value in PINNED.items():
            patch.setenv(name, value)
        time.tzset()  # the C library reads TZ only when told to
        yield
    time.tzset()  # back to the caller's zone, as the context restored TZ
