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

from ops_console import templating, views
from ops_console.audit import audit
from ops_console.backends import BackendError, Backends
from ops_console.entrypoints.deps import ActionDep, ContainerDep, PageSessionDep
from ops_console.sessions import Session
from stocksync_common.inventory_view import InventoryView

router = APIRouter(tags=["pages"])
LEDGER_ID = re.compile(r"\d{1,20}-\d{1,20}")  # a Redis stream id, as the ledger API takes


def render(
    template: str, title: str, session: Session | None, status: int = 200, **context: Any
) -> HTMLResponse:
    """The page ``template`` (it extends ``layout.html``) as the answer."""
    return HTMLResponse(templating.page(template, title, session, **context), status)


@router.get("/")
async def home(_session: PageSessionDep) -> RedirectResponse:
    """The console starts on the stores page."""
    return RedirectResponse("/stores", 303)


@router.get("/stores")
async def stores(c: ContainerDep, session: PageSessionDep) -> HTMLResponse:
    """Per store: circuit, bucket, pending changes, pushes; the sync consumer's lag."""
    try:
        sync = views.stores_view(await c.backends.get("shopify-sync", "/status/stores"))
    except BackendError as exc:
        return render("stores_page.html", "Store sync status", session, error=exc)
    return render("stores_page.html", "Store sync status", session, sync=sync, error=None)


@router.post("/stores/connect")
async def connect_stores(c: ContainerDep, act: ActionDep) -> HTMLResponse:
    """Connect every store (shopify-sync ``POST /stores/connect``): each store's outcome, and
    the first-sync job; running it again changes nothing that is right."""
    doc = await c.backends.post("shopify-sync", "/stores/connect", {})
    audit(act.who, "stores connect", job=doc.get("job_id"))
    return render("fragment_page.html", "Connect stores", act.session, body=views.connect_view(doc))


@router.get("/stock")
async def stock(
    c: ContainerDep, session: PageSessionDep, sku: str = "", before: str = "", started: str = ""
) -> HTMLResponse:
    """A SKU's levels per location, each store's count beside them, its allocation and its
    ledger (a page of it: the newest entries, or those before the entry id ``before``)."""
    sku, before = sku.strip(), before.strip()
    if not sku:
        return render("stock_page.html", "Stock", session, sku="", started="")
    if before and not LEDGER_ID.fullmatch(before):
        body: dict[str, Any] = {
            "error": f"{before!r} is not a ledger entry id (like 1760000000000-0)"
        }
    else:
        body = await _stock_body(c.backends, sku, before)
    return render("stock_page.html", f"Stock: {sku}", session, sku=sku, started=started, **body)


async def _stock_body(backends: Backends, sku: str, before: str) -> dict[str, Any]:
    """What the stock page shows of ``sku`` (``error`` when truth cannot be shown)."""
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
        return {"error": f"Unknown SKU {sku}" if exc.status == 404 else exc}
    try:
        view = InventoryView.model_validate(inv)
    except ValidationError as exc:
        return {"error": f"inventory-adjuster's answer for {sku} is unreadable: {exc}"}
    failed = isinstance(stores, BackendError)
    return {
        "error": None, "truth": views.stock_view(view),
        "stores_error": stores if failed else None,
        "stores": None if failed else views.stores_stock_view(view, stores),
        "ledger": views.ledger_view(sku, ledger, before),
    }  # fmt: skip


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
    try:
        doc = await c.backends.get("shopify-sync", "/mapping/problems")
    except BackendError as exc:
        return render("mapping_page.html", "SKU mapping problems", session, error=exc)
    problems = views.mapping_view(doc, sku)
    return render(
        "mapping_page.html", "SKU mapping problems", session, error=None, sku=sku,
        problems=problems,
    )  # fmt: skip


@router.get("/alerts")
async def alerts(c: ContainerDep, session: PageSessionDep) -> HTMLResponse:
    """The newest alerts and their delivery per channel; the rules in effect."""
    recent, rules = await asyncio.gather(
        _answer_or_error(c.backends.get("notifier", "/alerts/recent", {"limit": 100})),
        _answer_or_error(c.backends.get("notifier", "/rules")),
    )
    recent_failed, rules_failed = isinstance(recent, BackendError), isinstance(rules, BackendError)
    return render(
        "alerts_page.html", "Recent alerts", session,
        alerts_error=recent if recent_failed else None,
        alerts=None if recent_failed else views.alerts_view(recent.get("alerts", [])),
        rules_error=rules if rules_failed else None,
        rules=None if rules_failed else views.rules_view(rules),
    )  # fmt: skip


@router.get("/reconcile")
async def reconcile_page(
    c: ContainerDep, session: PageSessionDep, started: str = ""
) -> HTMLResponse:
    """Recent reconciliation runs and their findings; a button starts a new one."""
    try:
        doc = await c.backends.get("shopify-sync", "/status/jobs")
    except BackendError as exc:
        return render("reconcile_page.html", "Reconciliation", session, started=started, error=exc)
    jobs = views.jobs_view(doc.get("jobs", []))
    return render(
        "reconcile_page.html", "Reconciliation", session, started=started, error=None, jobs=jobs
    )


@router.post("/reconcile")
async def start_reconcile(c: ContainerDep, act: ActionDep) -> RedirectResponse:
    """Start a reconciliation of every store."""
    doc = await c.backends.post("shopify-sync", "/reconcile", {})
    job = str(doc.get("job_id", ""))
    audit(act.who, "reconcile", job=job)
    return RedirectResponse(f"/reconcile?started={_quote(job)}", 303)
