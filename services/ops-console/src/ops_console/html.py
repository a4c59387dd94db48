"""Server-side HTML: one layout, tables and forms. Every value is escaped unless it is
``Safe`` (markup this module or a page built itself from escaped parts)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from urllib.parse import urlencode

from ops_console.sessions import Session
from stocksync_common.accounts import Scope

NAV = (
    ("/stores", "Stores"),
    ("/stock", "Stock"),
    ("/dlq", "DLQ"),
    ("/mapping", "Mapping"),
    ("/alerts", "Alerts"),
    ("/reconcile", "Reconciliation"),
    ("/charts", "Charts"),
)
ADMIN_NAV = (("/users", "Users"),)  # shown to a session with the admin scope only


class Safe(str):
    """Markup that is already escaped (Jinja2's autoescaping sees it as such too)."""

    __slots__ = ()

    def __html__(self) -> str:
        return str(self)


def esc(value: object) -> Safe:
    if isinstance(value, Safe):
        return value
    return Safe(html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[object]) -> Safe:
    return Safe("".join(esc(p) for p in parts))


def href(path: str, **params: object) -> str:
    """``path`` with ``params`` (those not None) as its query, not yet escaped for HTML."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{path}?{query}" if query else path


def link(path: str, label: object, **params: object) -> Safe:
    return Safe(f'<a href="{esc(href(path, **params))}">{esc(label)}</a>')


def when(ts: object) -> str:
    """Seconds or milliseconds since the epoch, as UTC text."""
    if not isinstance(ts, int | float) or ts <= 0:
        return "" if ts is None else str(ts)
    seconds = ts / 1000 if ts > 1e11 else ts
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    css: str = "",
    row_css: Sequence[str] = (),
) -> Safe:
    """``row_css``: a class per row (the first rows; "" for none)."""
    head = join(Safe(f"<th>{esc(h)}</th>") for h in headers)
    body = join(
        Safe(
            f"<tr{_css(row_css[i] if i < len(row_css) else '')}>"
            + join(Safe(f"<td>{esc(c)}</td>") for c in row)
            + "</tr>"
        )
        for i, row in enumerate(rows)
    )
    if not body:
        body = Safe(f'<tr><td colspan="{len(headers)}" class="empty">nothing here</td></tr>')
    return Safe(
        f'<table class="{esc(css)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def _css(name: str) -> Safe:
    return Safe(f' class="{esc(name)}"') if name else Safe("")


def hidden(name: str, value: object) -> Safe:
    return Safe(f'<input type="hidden" name="{esc(name)}" value="{esc(value)}">')


def action_form(
    action: str,
    button: str,
    session: Session,
    fields: dict[str, object] | None = None,
    css: str = "inline",
    *,
    scope: Scope | None = "operate",
) -> Safe:
    """A POST form carrying the session's CSRF token; nothing for a session whose role lacks
    ``scope`` (a viewer sees no action buttons; the action refuses them anyway)."""
    if scope is not None and not session.may(scope):
        return Safe("")
    inputs = join(hidden(k, v) for k, v in (fields or {}).items())
    return Safe(
        f'<form method="post" action="{esc(action)}" class="{esc(css)}">'
        f'{hidden("csrf", session.csrf)}{inputs}<button type="submit">{esc(button)}</button></form>'
    )  # fmt: skip


def error_box(message: object) -> Safe:
    return Safe(f'<p class="error" role="alert">{esc(message)}</p>')


def notice(message: object) -> Safe:
    return Safe(f'<p class="notice" role="status">{esc(message)}</p>')


def page(title: str, body: Safe, session: Session | None) -> Safe:
    nav = Safe("")
    if session is not None:
        links = NAV + (ADMIN_NAV if session.may("admin") else ())
        items = join(Safe(f'<a href="{p}">{esc(label)}</a>') for p, label in links)
        logout = action_form("/logout", "Log out", session, scope=None)
        who = f"{session.user} ({session.role})"
        nav = Safe(f'<nav>{items}<span class="who">{esc(who)}</span>{logout}</nav>')
    return Safe(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)} · StockSync ops</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="stylesheet" href="/static/console.css"></head>'
        f"<body><header><strong>StockSync ops</strong>{nav}</header>"
        f"<main><h1>{esc(title)}</h1>{body}</main></body></html>"
    )


CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{display:flex;gap:1.5rem;align-items:center;background:#1d2330;color:#fff;padding:.6rem 1rem}
nav{display:flex;gap:1rem;align-items:center;flex:1}
nav a{color:#cfe1ff;text-decoration:none}nav a:hover{text-decoration:underline}
nav .who{margin-left:auto;color:#9aa5b8;font-size:12px}
main{padding:1rem 1.5rem;max-width:1200px}
table{border-collapse:collapse;background:#fff;margin:.5rem 0 1.5rem;width:100%}
th,td{border:1px solid #dde1e8;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eef1f5}td.empty{color:#8a93a3;font-style:italic}
form.inline{display:inline;margin:0}
button{cursor:pointer;border:1px solid #3b6fd8;background:#3b6fd8;color:#fff;
  border-radius:3px;padding:.2rem .6rem}
nav button{background:transparent;border-color:#9aa5b8}
.error{background:#fdecec;border:1px solid #e5a0a0;padding:.5rem}
.notice{background:#e9f7ee;border:1px solid #92cfa6;padding:.5rem}
.open{color:#b3261e;font-weight:600}.closed{color:#1e7b34}
tr.drift td,span.drift{background:#fff1dc;font-weight:600}
table.ledger td:first-child{white-space:nowrap}
pre{background:#fff;border:1px solid #dde1e8;padding:.5rem;overflow:auto;max-height:24rem}
figure{margin:0 0 1.5rem}figcaption{font-weight:600;margin:.3rem 0}
ul.legend{list-style:none;display:flex;flex-wrap:wrap;gap:1rem;padding:0;margin:.2rem 0}
.source{color:#55607a}
label{display:block;margin:.5rem 0}input[type=text],input[type=password]{padding:.3rem;width:20rem}
"""
