"""The read pages: store sync status (with the connect action), stock per SKU, mapping
problems, alerts, and reconciliation (whose start button is an action)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from ops_console import html, views
from ops_console.audit import audit
from ops_console.backends import BackendError, Backends
from ops_console.entrypoints.deps import ActionDep, ContainerDep, PageSessionDep
from ops_console.sessions import Session
from stocksync_common.inventory_view import InventoryView

router = APIRouter(tags=["pages"])
LEDGER_ID = re.compile(r"\d{1,20}-\d{1,20}")  # a Redis stream id, as the ledger API takes


def render(title: str, body: html.Safe, session: Session, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html.page(title, body, session), status)


@router.get("/")
async def home(_session: PageSessionDep) -> RedirectResponse:
    """The console starts on the stores page."""
    return RedirectResponse("/stores", 303)


@router.get("/stores")
async def stores(c: ContainerDep, session: PageSessionDep) -> HTMLResponse:
    """Per store: circuit, bucket, pending changes, pushes; the sync consumer's lag."""
    try:
        body = views.stores_view(await c.backends.get("shopify-sync", "/status/stores"))
    except BackendError as exc:
        body = html.error_box(exc)
    button = html.action_form(
        "/stores/connect", "Connect stores (scopes, webhooks, first sync)", session, css="start"
    )
    return render("Store sync status", html.join([body, button]), session)


@router.post("/stores/connect")
async def connect_stores(c: ContainerDep, act: ActionDep) -> HTMLResponse:
    """Connect every store (shopify-sync ``POST /stores/connect``): each store's outcome, and
    the first-sync job; running it again changes nothing that is right."""
    doc = await c.backends.post("shopify-sync", "/stores/connect", {})
    audit(act.who, "stores connect", job=doc.get("job_id"))
    return render("Connect stores", views.connect_view(doc), act.session)


@router.get("/stock")
async def stock(
    c: ContainerDep, session: PageSessionDep, sku: str = "", before: str = "", started: str = ""
) -> HTMLResponse:
    """A SKU's levels per location, each store's count beside them, its allocation and its
    ledger (a page of it: the newest entries, or those before the entry id ``before``)."""
    sku, before = sku.strip(), before.strip()
    form = html.Safe(
        '<form method="get" action="/stock"><label>SKU <input type="text" name="sku" '
        f'value="{html.esc(sku)}" required></label><button type="submit">Show</button></form>'
    )
    if not sku:
        return render("Stock", form, session)
    parts: list[Any] = [form]
    if started:
        parts.append(html.notice(
            f"Reconciliation {started} started: it reads every store's count of {sku} and "
            "corrects what drifted. Reload to see the counts it found."
        ))  # fmt: skip
    if before and not LEDGER_ID.fullmatch(before):
        parts.append(html.error_box(f"{before!r} is not a ledger entry id (like 1760000000000-0)"))
    else:
        check = html.action_form(
            "/stock/check", "Read every store now (a reconciliation of this SKU)", session,
            {"sku": sku}, css="start",
        )  # fmt: skip
        parts.append(await _stock_body(c.backends, sku, before, check))
    return render(f"Stock: {sku}", html.join(parts), session)


async def _stock_body(backends: Backends, sku: str, before: str, check: html.Safe) -> html.Safe:
    path = f"/inventory/{_quote(sku)}"
    page: dict[str, Any] = {"limit": views.LEDGER_ROWS}
    if before:
        page["before"] = before
    try:
        inv, ledger, stores = await asyncio.gather(
            backends.get("inventory-adjuster", path),
            backends.get("inventory-adjuster", f"{path}/ledger", page),
            _answer_or_error(backends.get("shopify-sync", f"/status/stock/{_quote(sku)}")),
        )
    except BackendError as exc:
        return html.error_box(f"Unknown SKU {sku}" if exc.status == 404 else exc)
    try:
        view = InventoryView.model_validate(inv)
    except ValidationError as exc:
        return html.error_box(f"inventory-adjuster's answer for {sku} is unreadable: {exc}")
    in_stores = (
        html.error_box(stores)
        if isinstance(stores, BackendError)
        else views.stores_stock_view(view, stores)
    )
    return html.join(
        [views.stock_view(view), html.Safe("<h2>In the stores</h2>"), in_stores, check,
         views.ledger_view(sku, ledger, before)]
    )  # fmt: skip


async def _answer_or_error(call: Awaitable[Any]) -> Any:
    """The answer, or the ``BackendError`` for the page to show beside the rest."""
    try:
        return await call
    except BackendError as exc:
        return exc


@router.post("/stock/check")
async def check_stock(c: ContainerDep, act: ActionDep) -> RedirectResponse:
    """Read every store's count of one SKU now and correct drift: shopify-sync's
    reconciliation of that SKU."""
    sku = act.form.get("sku", "").strip()
    if not sku:
        raise HTTPException(400, "no SKU")
    doc = await c.backends.post("shopify-sync", "/reconcile", {"skus": [sku]})
    job = str(doc.get("job_id", ""))
    audit(act.who, "reconcile", job=job, sku=sku)
    return RedirectResponse("/stock?" + urlencode({"sku": sku, "started": job}), 303)


def _quote(value: str) -> str:
    return quote(value, safe="")


@router.get("/mapping")
async def mapping(c: ContainerDep, session: PageSessionDep, sku: str = "") -> HTMLResponse:
    """SKU mapping problems per store: duplicates, missing, mismatched, blank, unstocked
    (only the SKUs containing ``sku`` when given)."""
    sku = sku.strip()
    form = html.Safe(
        '<form method="get" action="/mapping"><label>SKU contains <input type="text" '
        f'name="sku" value="{html.esc(sku)}"></label><button type="submit">Filter</button></form>'
    )
    try:
        doc = await c.backends.get("shopify-sync", "/mapping/problems")
        body = html.join([form, views.mapping_view(doc, sku)])
    except BackendError as exc:
        body = html.error_box(exc)
    return render("SKU mapping problems", body, session)


@router.get("/alerts")
async def alerts(c: ContainerDep, session: PageSessionDep) -> HTMLResponse:
    """The newest alerts and their delivery per channel; the rules in effect."""
    recent, rules = await asyncio.gather(
        _answer_or_error(c.backends.get("notifier", "/alerts/recent", {"limit": 100})),
        _answer_or_error(c.backends.get("notifier", "/rules")),
    )
    parts = [
        html.error_box(recent) if isinstance(recent, BackendError)
        else views.alerts_view(recent.get("alerts", [])),
        html.Safe("<h2>Rules in effect</h2>"),
        html.error_box(rules) if isinstance(rules, BackendError) else views.rules_view(rules),
    ]  # fmt: skip
    return render("Recent alerts", html.join(parts), session)


@router.get("/reconcile")
async def reconcile_page(
    c: ContainerDep, session: PageSessionDep, started: str = ""
) -> HTMLResponse:
    """Recent reconciliation runs and their findings; a button starts a new one."""
    parts: list[Any] = []
    if started:
        parts.append(html.notice(f"Reconciliation {started} started."))
    parts.append(html.action_form("/reconcile", "Start a reconciliation", session, css="start"))
    try:
        doc = await c.backends.get("shopify-sync", "/status/jobs")
        parts.append(views.jobs_view(doc.get("jobs", [])))
    except BackendError as exc:
        parts.append(html.error_box(exc))
    return render("Reconciliation", html.join(parts), session)


@router.post("/reconcile")
async def start_reconcile(c: ContainerDep, act: ActionDep) -> RedirectResponse:
    """Start a reconciliation of every store."""
    doc = await c.backends.post("shopify-sync", "/reconcile", {})
    job = str(doc.get("job_id", ""))
    audit(act.who, "reconcile", job=job)
    return RedirectResponse(f"/reconcile?started={_quote(job)}", 303)
