"""Dead letters across the services (each service's ``/admin/dlq`` API): topics and depths,
records, one record in full, and replay."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse

from ops_console import html, views
from ops_console.audit import audit
from ops_console.backends import BackendError
from ops_console.bootstrap import Container
from ops_console.entrypoints.deps import ActionDep, ContainerDep, PageSessionDep
from ops_console.entrypoints.pages import render
from ops_console.sessions import Session
from ops_console.views import brief

router = APIRouter(prefix="/dlq", tags=["dlq"])
STATUSES = ("pending", "replayed", "all")
PARKED_ROWS = 50


def replay_button(session: Session, service: str, record: dict[str, Any]) -> html.Safe:
    if record.get("status") not in (None, "pending"):
        return html.Safe("replayed")
    fields = {"service": service, "id": record.get("id"), "topic": record.get("topic")}
    return html.action_form("/dlq/replay", "Replay", session, fields)


def masked_notice(doc: dict[str, Any]) -> html.Safe:
    """Says so when the service masked customer data (a role without the admin scope)."""
    if not doc.get("masked"):
        return html.Safe("")
    return html.notice("Customer data (names, emails, phones, addresses) is masked: only an "
                       "admin sees dead letters raw, and each such view is audited.")  # fmt: skip


def known_service(c: Container, service: str) -> str:
    if service not in c.backends.services:
        raise HTTPException(400, "unknown service")
    return service


@router.get("")
async def dlq_topics(c: ContainerDep, session: PageSessionDep) -> HTMLResponse:
    """Every service's DLQ topics with their depth and pending count; the webhooks parked
    because StockSync does not handle their topic."""
    services = c.backends.services
    parked_call = c.backends.get("webhook-receiver", "/admin/parked", {"limit": PARKED_ROWS})
    parked, *answers = await asyncio.gather(
        parked_call, *(c.backends.get(s, "/admin/dlq") for s in services), return_exceptions=True
    )
    rows, errors = [], []
    for service, answer in zip(services, answers, strict=True):
        if isinstance(answer, BaseException):
            errors.append(html.error_box(answer if isinstance(answer, BackendError) else service))
            continue
        for t in answer.get("topics", []):
            rows.append(
                [service, html.link("/dlq/records", t.get("topic"), service=service,
                                    topic=t.get("topic")),
                 t.get("group"), t.get("original_topic"), t.get("depth"), t.get("pending")]
            )  # fmt: skip
    headers = ["service", "DLQ topic", "group", "original topic", "depth", "pending"]
    parked_part = (
        views.parked_view(parked)
        if isinstance(parked, dict)
        else html.error_box(parked if isinstance(parked, BackendError) else "webhook-receiver")
    )
    body = [*errors, html.table(headers, rows, "dlq"), html.Safe("<h2>Parked webhooks</h2>"),
            parked_part]  # fmt: skip
    return render("Dead letters", html.join(body), session)


@router.get("/records")
async def dlq_records(
    c: ContainerDep, session: PageSessionDep, service: str, topic: str,
    status: str = "pending", replayed: int | None = None,
) -> HTMLResponse:  # fmt: skip
    """The records of one DLQ topic, each with inspect and replay."""
    known_service(c, service)
    status = status if status in STATUSES else "pending"
    parts: list[Any] = []
    if replayed is not None:
        parts.append(html.notice(f"Replayed {replayed} record(s)."))
    filters = " · ".join(
        html.link("/dlq/records", s, service=service, topic=topic, status=s) for s in STATUSES
    )
    parts.append(html.Safe(f"<p>Show: {filters}</p>"))
    try:
        params = {"topic": topic, "status": status, "limit": 200}
        doc = await c.backends.get(service, "/admin/dlq/records", params)
        rows = [
            [html.link("/dlq/record", r.get("id"), service=service, id=r.get("id")),
             r.get("original_topic"), r.get("key"), r.get("reason"), brief(r.get("error"), 120),
             r.get("attempts"), html.when(r.get("failed_at")), r.get("correlation_id"),
             r.get("status"), replay_button(session, service, r)]
            for r in reversed(doc.get("records", []))
        ]  # fmt: skip
        headers = ["id", "original topic", "key", "reason", "error", "attempts", "failed at",
                   "correlation id", "status", ""]  # fmt: skip
        parts.extend([masked_notice(doc), html.table(headers, rows, "records")])
    except BackendError as exc:
        parts.append(html.error_box(exc))
    return render(f"DLQ {topic}", html.join(parts), session)


@router.get("/record")
async def dlq_record(
    c: ContainerDep, session: PageSessionDep, service: str, id: str
) -> HTMLResponse:
    """One dead letter in full: where it came from, why it failed, headers and value."""
    known_service(c, service)
    try:
        r = await c.backends.get(service, f"/admin/dlq/records/{_path(id)}")
    except BackendError as exc:
        return render(
            "Dead letter", html.error_box(exc), session, 404 if exc.status == 404 else 502
        )
    fields = ["id", "topic", "original_topic", "partition", "offset", "key", "reason", "error",
              "attempts", "failed_at", "correlation_id", "status"]  # fmt: skip
    rows = [[f, html.when(r.get(f)) if f == "failed_at" else r.get(f)] for f in fields]
    headers = sorted((r.get("headers") or {}).items())
    value = r.get("value") if r.get("value") is not None else r.get("value_b64")
    body = html.join(
        [
            masked_notice(r),
            html.table(["field", "value"], rows, "record"),
            replay_button(session, service, r),
            html.Safe("<h2>Headers</h2>"), html.table(["header", "value"], headers, "headers"),
            html.Safe("<h2>Value</h2>"),
            html.Safe(f'<pre class="value">{html.esc(_pretty(value))}</pre>'),
            html.Safe("<h2>Stack</h2>"),
            html.Safe(f'<pre class="stack">{html.esc(_stack(r.get("stack")))}</pre>'),
        ]
    )  # fmt: skip
    return render(f"Dead letter {id}", body, session)


def _pretty(value: object) -> str:
    if isinstance(value, str):
        try:
            return json.dumps(json.loads(value), indent=2, sort_keys=True)
        except ValueError:
            return value
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def _stack(value: object) -> str:
    if isinstance(value, list):
        return "\n".join(str(line) for line in value)
    return "" if value is None else str(value)


def _path(value: str) -> str:
    return quote(value, safe="")


@router.post("/replay")
async def dlq_replay(c: ContainerDep, act: ActionDep) -> RedirectResponse:
    """Replay one record through its group's retry path, then show its topic again."""
    service = known_service(c, act.form.get("service", ""))
    record_id = act.form.get("id", "")
    if not record_id:
        raise HTTPException(400, "no record id")
    doc = await c.backends.post(service, "/admin/dlq/replay", {"ids": [record_id]})
    replayed = int(doc.get("replayed", 0))
    audit(act.who, "dlq replay", target_service=service, record=record_id, replayed=replayed)
    topic = act.form.get("topic") or record_id.rsplit(":", 2)[0]
    query = urlencode({"service": service, "topic": topic, "status": "all", "replayed": replayed})
    return RedirectResponse(f"/dlq/records?{query}", 303)
