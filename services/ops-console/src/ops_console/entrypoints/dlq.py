"""Dead letters across the services (each service's ``/admin/dlq`` API): topics and depths,
records, one record in full, and replay."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from ops_console import views
from ops_console.audit import audit
from ops_console.backends import BackendError
from ops_console.bootstrap import Container
from ops_console.entrypoints.deps import ActionDep, ContainerDep, PageSessionDep
from ops_console.entrypoints.pages import render
from ops_console.formatting import href, when
from ops_console.sessions import Session
from ops_console.templating import macro
from ops_console.views import brief

router = APIRouter(prefix="/dlq", tags=["dlq"])
STATUSES = ("pending", "replayed", "all")
PARKED_ROWS = 50


def replay_button(session: Session, service: str, record: dict[str, Any]) -> Markup | str:
    if record.get("status") not in (None, "pending"):
        return "replayed"
    fields = {"service": service, "id": record.get("id"), "topic": record.get("topic")}
    return macro("action_form")("/dlq/replay", "Replay", session, fields)


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
            errors.append(answer if isinstance(answer, BackendError) else service)
            continue
        for t in answer.get("topics", []):
            topic = t.get("topic")
            rows.append(
                [service, macro("link")(href("/dlq/records", service=service, topic=topic), topic),
                 t.get("group"), t.get("original_topic"), t.get("depth"), t.get("pending")]
            )  # fmt: skip
    if isinstance(parked, dict):
        shown: dict[str, Any] = {"parked": views.parked_view(parked), "parked_error": None}
    else:
        problem = parked if isinstance(parked, BackendError) else "webhook-receiver"
        shown = {"parked": None, "parked_error": problem}
    return render(
        "dlq_topics_page.html", "Dead letters", session, errors=errors, rows=rows, **shown
    )


@router.get("/records")
async def dlq_records(
    c: ContainerDep, session: PageSessionDep, service: str, topic: str,
    status: str = "pending", replayed: int | None = None, refused: int | None = None,
    purged: int | None = None,
) -> HTMLResponse:  # fmt: skip
    """The records of one DLQ topic, each with inspect and replay; for roles that may
    operate, every pending record replayed at once, or the topic purged."""
    known_service(c, service)
    status = status if status in STATUSES else "pending"
    filters = [(s, href("/dlq/records", service=service, topic=topic, status=s)) for s in STATUSES]
    page: dict[str, Any] = {
        "replayed": replayed, "refused": refused, "purged": purged, "filters": filters,
        "error": None, "rows": [], "masked": False, "service": service, "topic": topic,
    }  # fmt: skip
    try:
        params = {"topic": topic, "status": status, "limit": 200}
        doc = await c.backends.get(service, "/admin/dlq/records", params)
    except BackendError as exc:
        page["error"] = exc
    else:
        page["masked"] = bool(doc.get("masked"))
        page["rows"] = [
            [macro("link")(href("/dlq/record", service=service, id=r.get("id")), r.get("id")),
             r.get("original_topic"), r.get("key"), r.get("reason"), brief(r.get("error"), 120),
             r.get("attempts"), when(r.get("failed_at")), r.get("correlation_id"),
             r.get("status"), replay_button(session, service, r)]
            for r in reversed(doc.get("records", []))
        ]  # fmt: skip
    return render("dlq_records_page.html", f"DLQ {topic}", session, **page)


@router.get("/record")
async def dlq_record(
    c: ContainerDep, session: PageSessionDep, service: str, id: str
) -> HTMLResponse:
    """One dead letter in full: where it came from, why it failed, headers and value."""
    known_service(c, service)
    try:
        r = await c.backends.get(service, f"/admin/dlq/records/{_path(id)}")
    except BackendError as exc:
        status = 404 if exc.status == 404 else 502
        return render("message_page.html", "Dead letter", session, status, error=exc)
    fields = ["id", "topic", "original_topic", "partition", "offset", "key", "reason", "error",
              "attempts", "failed_at", "correlation_id", "status"]  # fmt: skip
    rows = [[f, when(r.get(f)) if f == "failed_at" else r.get(f)] for f in fields]
    value = r.get("value") if r.get("value") is not None else r.get("value_b64")
    return render(
        "dlq_record_page.html", f"Dead letter {id}", session, rows=rows,
        replay=replay_button(session, service, r),
        headers=sorted((r.get("headers") or {}).items()),
        value=_pretty(value), stack=_stack(r.get("stack")), masked=bool(r.get("masked")),
        redacted=bool(r.get("redacted")),
    )  # fmt: skip


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


@router.post("/replay-all")
async def dlq_replay_all(c: ContainerDep, act: ActionDep) -> RedirectResponse:
    """Replay every pending record of a DLQ topic (the service refuses, with the reason,
    those that cannot succeed), then show the topic again with what happened."""
    service = known_service(c, act.form.get("service", ""))
    topic = act.form.get("topic", "")
    if not topic:
        raise HTTPException(400, "no topic")
    doc = await c.backends.post(service, "/admin/dlq/replay", {"topic": topic, "all": True})
    replayed, refused = int(doc.get("replayed", 0)), len(doc.get("refused") or {})
    audit(act.who, "dlq replay all", target_service=service, topic=topic, replayed=replayed,
          refused=refused)  # fmt: skip
    query = urlencode({"service": service, "topic": topic, "status": "all",
                       "replayed": replayed, "refused": refused})  # fmt: skip
    return RedirectResponse(f"/dlq/records?{query}", 303)


@router.post("/purge", response_model=None)
async def dlq_purge(c: ContainerDep, act: ActionDep) -> HTMLResponse | RedirectResponse:
    """Delete every record of a DLQ topic, once its name was typed again to confirm."""
    service = known_service(c, act.form.get("service", ""))
    topic, confirm = act.form.get("topic", ""), act.form.get("confirm", "").strip()
    if not topic:
        raise HTTPException(400, "no topic")
    if confirm != topic:
        back = href("/dlq/records", service=service, topic=topic)
        return render("message_page.html", "Purge not done", act.session, 400, message=None,
                      error=f"Type the topic's name, {topic}, to purge it (nothing was deleted).",
                      back=back)  # fmt: skip
    doc = await c.backends.post(service, "/admin/dlq/purge", {"topic": topic, "confirm": topic})
    purged = int(doc.get("purged", 0))
    audit(act.who, "dlq purge", target_service=service, topic=topic, purged=purged)
    query = urlencode({"service": service, "topic": topic, "status": "all", "purged": purged})
    return RedirectResponse(f"/dlq/records?{query}", 303)
