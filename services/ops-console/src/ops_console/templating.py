"""Jinja2 templates with autoescaping, the FastAPI convention: every page of the console is
drawn by a template in ``templates/`` (issue #25, item 6). Every value a template prints is
escaped unless it is markup already (``markupsafe.Markup``: a macro's output or a fragment
another template drew); None prints as nothing. Python code never writes markup: it computes
what a page shows (``views``) and hands it to a template, calling a macro of
``macros.html`` (:func:`macro`) for the few table cells that are markup (links, buttons)."""

from __future__ import annotations

import html
from collections.abc import Callable
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from ops_console.sessions import Session


def _finalize(value: object) -> object:
    """None as nothing; text escaped as the standard library escapes it (``&quot;``,
    ``&#x27;``: the entities the console always printed), markup as it is."""
    if value is None:
        return ""
    if hasattr(value, "__html__"):
        return value
    return Markup(html.escape(str(value), quote=True))  # noqa: S704 - escaped just now


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


def render(name: str, **context: Any) -> Markup:
    """The template ``name`` rendered with ``context``, as markup."""
    return Markup(environment().get_template(name).render(**context))  # noqa: S704 - escaped by Jinja2


def page(name: str, title: str, session: Session | None, **context: Any) -> str:
    """A whole page: ``name`` extends ``layout.html`` (``session`` None: no navigation)."""
    return environment().get_template(name).render(title=title, session=session, **context)


def macro(name: str) -> Callable[..., Markup]:
    """A macro of ``macros.html`` (``link``, ``action_form``, ``state``...) to call from
    Python for a table cell that is markup; its arguments are escaped as in a template."""
    made: Callable[..., str] = getattr(environment().get_template("macros.html").module, name)

    def call(*args: Any, **kwargs: Any) -> Markup:
        return Markup(made(*args, **kwargs))  # noqa: S704 - a macro's escaped output

    return call
