"""The view of ``cronpy why``: its sentences. A module of its own because importing
``WhyAnswer`` loads the engine, which no other view needs."""

from __future__ import annotations

from cronpy.cli.render.base import Output, view
from cronpy.engine.why import WhyAnswer


@view(WhyAnswer)
def why(result: WhyAnswer, out: Output) -> None:
    for sentence in result.explanation:
        out.line(sentence)
