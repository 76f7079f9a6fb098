"""The ``cronpy`` entry point and its one error boundary.

Library code raises ``cronpy.errors`` classes; here they become a message on stderr (no
traceback) and the exit code the error carries: 0 ok, 1 the thing asked about failed,
2 usage or input error, 3 no runner or no state where one is needed.

Nothing heavy is imported at module level: ``cronpy --version`` answers before typer loads.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from cronpy import __version__


def main(argv: list[str] | None = None) -> int:
    """Run ``cronpy`` with ``argv`` (default: ``sys.argv[1:]``) and return its exit code."""
    args = _hoist_state_dir(sys.argv[1:] if argv is None else list(argv))
    if args in (["--version"], ["-V"]):
        sys.stdout.write(f"cronpy {__version__}\n")
        return 0
    if args in (["--help"], ["-h"]) and not _completing():
        from cronpy.cli.helptext import render  # typer's page, without typer (cli/helptext.py)

        sys.stdout.write(render())
        return 0
    from cronpy.errors import ConfigError, CronpyError

    try:
        from cronpy.cli.fast import parse

        fast = parse(args)  # plain `status` and `history` skip typer (cronpy.cli.fast)
        if fast is not None:
            body, kwargs = fast
            code = _without_gc(body, kwargs)
            if argv is None:  # the `cronpy` process itself, not a caller in Python (tests)
                _exit_now(code)
            return code
        from cronpy.cli.fast import parse_run, start_runner

        runner = parse_run(args)  # a plain `run FILE`: the daemon then holds no typer
        if runner is not None:
            return start_runner(**runner)
        from cronpy.cli.app import run_app

        return run_app(args)
    except ConfigError as exc:
        for problem in exc.problems:  # one per line, each naming file:line:col, job and key
            sys.stderr.write(f"{problem}\n")
        return exc.exit_code
    except CronpyError as exc:
        sys.stderr.write(f"cronpy: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return 130
    except BrokenPipeError:
        # The reader went away (`cronpy history | head`): stop quietly, as other tools do.
        _silence_stdout()
        return 141


def _completing() -> bool:
    """Whether the shell asks for completions (typer's environment variable): typer answers."""
    import os

    return any(name.startswith("_CRONPY_COMPLETE") for name in os.environ)


def _exit_now(code: int) -> None:
    """End the process without the interpreter's teardown: after a read command it only frees
    the thousands of objects the command built, and unloads modules, ~7 ms of a ~65 ms
    ``status``. The command has closed its store; it registers no atexit work. Output is
    flushed first, here, so a closed pipe still ends as main's BrokenPipeError branch says."""
    import os

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _without_gc(body: Callable[..., int], kwargs: dict[str, Any]) -> int:
    """Run a read command with the cycle collector off: it allocates thousands of objects
    that reference counting frees, and the collector's passes over them cost ~5 ms of a
    ~60 ms ``status``. Restored after, for callers that are not a fresh process (tests)."""
    import gc

    was_on = gc.isenabled()
    gc.disable()
    try:
        return body(**kwargs)
    finally:
        if was_on:
            gc.enable()


def _hoist_state_dir(args: list[str]) -> list[str]:
    """Accept ``--state-dir`` after the command too (``cronpy run F --state-dir D``), by moving
    it in front, where the one global option lives. Nothing after ``--`` is touched."""
    end = args.index("--") if "--" in args else len(args)
    for i, arg in enumerate(args[:end]):
        if i == 0:
            continue
        if arg.startswith("--state-dir="):
            return [arg, *args[:i], *args[i + 1 :]]
        if arg == "--state-dir" and i + 1 < end:
            return [arg, args[i + 1], *args[:i], *args[i + 2 :]]
    return args


def _silence_stdout() -> None:
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush cannot fail again


def __getattr__(name: str) -> object:
    """``cronpy.cli.main.app``: the typer application, imported only when asked for."""
    if name == "app":
        from cronpy.cli.app import app

        return app
    raise AttributeError(name)
