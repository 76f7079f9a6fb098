"""The one place that prints command results: human tables and lines, or one JSON document.

JSON is the result's own ``to_json()``. The human form is the result type's view, registered
with ``@view(ResultType)`` in one of the modules below; each module is imported the first time
one of its types is rendered, so a command loads only its own views (``why``'s need the
schedule code, ``status``'s do not; the read commands that must start fast have a module
each).

Colour only when stdout is a terminal and NO_COLOR is unset (https://no-color.org); then
rich draws the tables. Otherwise the output is plain aligned text with no escape codes at
all, and rich is never imported: that keeps ``cronpy status | grep`` and scripts fast.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, TextIO

from cronpy.cli.render.base import Output, View, color_wanted, isatty, registered_view

__all__ = ["color_wanted", "render", "view_for"]

VIEW_MODULES = {
    # the module defining result types -> the module holding their views
    "cronpy.cli.commands.status": "cronpy.cli.render.status",
    "cronpy.cli.commands.history": "cronpy.cli.render.history",
    "cronpy.cli.commands.pause": "cronpy.cli.render.changes",
    "cronpy.cli.commands.control": "cronpy.cli.render.changes",
    "cronpy.cli.commands.preview": "cronpy.cli.render.next",
    "cronpy.engine.why": "cronpy.cli.render.why",
    "cronpy.cli.commands.validate": "cronpy.cli.render.files",
    "cronpy.cli.commands.systemd": "cronpy.cli.render.files",
    "cronpy.cli.commands.import_crontab": "cronpy.cli.render.crontab",
    "cronpy.cli.commands.edit": "cronpy.cli.render.crontab",
    "cronpy.cli.commands.logs": "cronpy.cli.render.files",
    "cronpy.cli.commands.stop": "cronpy.cli.render.changes",
    "cronpy.cli.commands.store_copy": "cronpy.cli.render.changes",
}


def render(
    result: Any, *, as_json: bool = False, stream: TextIO | None = None, color: bool | None = None
) -> None:
    """Print ``result`` to ``stream`` (default stdout). ``color`` None: decide from the stream
    and the environment; True or False: as told, whatever the terminal."""
    out_stream = sys.stdout if stream is None else stream
    if as_json:
        # indented for a person at a terminal; compact for machines, where json's C encoder
        # is several times faster (indent forces the pure-Python one)
        indent = 2 if isatty(out_stream) else None
        import json  # here: the tables do not need it

        # dumps, not dump: json.dump streams through the pure-Python encoder even unindented
        text = json.dumps(result.to_json(), indent=indent, ensure_ascii=False)
        out_stream.write(text + "\n")
        return
    draw = view_for(type(result))
    draw(result, Output(out_stream, color_wanted(out_stream) if color is None else color))


def view_for(result_type: type) -> View:
    """The human view of ``result_type``; TypeError if it has none (a programming error)."""
    found = registered_view(result_type)
    if found is None and result_type.__module__ in VIEW_MODULES:
        importlib.import_module(VIEW_MODULES[result_type.__module__])
        found = registered_view(result_type)
    if found is None:
        raise TypeError(f"no human view for {result_type.__qualname__}")
    return found
