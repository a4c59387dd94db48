"""Jinja2 templates with autoescaping, the FastAPI convention, for the pages being moved off
the hand-built markup of :mod:`ops_console.html` (issue #25, item 6): every value a template
prints is escaped unless it is markup already (``html.Safe``, ``markupsafe.Markup``). None
prints as nothing, as ``html.esc`` prints it."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from ops_console.html import Safe


def _finalize(value: object) -> object:
    return "" if value is None else value


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("ops_console", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
    )


def render(name: str, **context: Any) -> Safe:
    """The template ``name`` rendered with ``context``, as markup."""
    return Safe(environment().get_template(name).render(**context))
