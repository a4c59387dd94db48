"""What both webhook endpoints share: bounded bodies, header checks, refusals and answers."""

from __future__ import annotations

import base64
import time
from typing import Literal

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from webhook_receiver.bootstrap import Container
from webhook_receiver.intake import Outcome

MAX_ID_CHARS = 255
SOURCE = "webhook-receiver"


class WebhookAck(BaseModel):
    status: Literal["accepted", "duplicate"]
    event_id: str


class WebhookError(BaseModel):
    detail: str
    errors: list[str] | None = None


class Rejected(Exception):
    """A delivery refused with ``status``; ``outcome`` is its metric label."""

    def __init__(
        self, status: int, detail: str, outcome: str, *, errors: list[str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.outcome, self.errors = status, detail, outcome, errors

    def response(self) -> JSONResponse:
        body = WebhookError(detail=self.detail, errors=self.errors).model_dump(exclude_none=True)
        headers = {"Retry-After": "1"} if self.status in (429, 503) else None
        return JSONResponse(body, self.status, headers=headers)


# Outcomes that are not a 200: status, detail, metric label (a fresh exception per refusal).
REFUSALS: dict[Outcome, tuple[int, str, str]] = {
    Outcome.IN_FLIGHT: (503, "this delivery is being published; retry later", "in_flight"),
    Outcome.RATE_LIMITED: (429, "too many deliveries this second; retry later", "rate_limited"),
    Outcome.UNAVAILABLE: (503, "cannot make the delivery durable now; retry later", "unavailable"),
    Outcome.TOO_LARGE: (413, "body too large for the event log", "too_large"),
}


def container_of(request: Request) -> Container:
    """The lifespan's container. Read directly rather than through ``Depends``: the webhook
    routes are the hot path, and FastAPI's dependency solving costs more than the lookup."""
    c: Container = request.app.state.container
    return c


def check_declared_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Rejected(413, f"body larger than {limit} bytes", "too_large")


async def read_bounded(request: Request, limit: int) -> bytes:
    check_declared_length(request, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Rejected(413, f"body larger than {limit} bytes", "too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def require_headers(request: Request, names: list[str]) -> list[str]:
    """The values of ``names``, in order; 400 naming the first one missing."""
    values = []
    for name in names:
        value = request.headers.get(name, "").strip()
        if not value:
            raise Rejected(400, f"missing header {name}", "bad_request")
        values.append(value)
    return values


def check_id(name: str, value: str) -> str:
    if len(value) > MAX_ID_CHARS or not value.isascii() or not value.isprintable():
        raise Rejected(400, f"invalid header {name}", "bad_request")
    return value


def require_json(request: Request) -> None:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise Rejected(415, "Content-Type must be application/json", "unsupported_media_type")


def accepted(outcome: Outcome, event_id: str) -> JSONResponse:
    if outcome in REFUSALS:
        raise Rejected(*REFUSALS[outcome])
    status: Literal["accepted", "duplicate"] = (
        "duplicate" if outcome is Outcome.DUPLICATE else "accepted"
    )
    return JSONResponse(WebhookAck(status=status, event_id=event_id).model_dump())


def dead_letter(request: Request, topic: str, key: str, body: bytes, error: str) -> bytes:
    """A DLQ record in the consumers' shape, plus the exact raw body (``value_b64``)."""
    headers = {k: v for k, v in request.headers.items() if k.startswith(("x-shopify-", "x-wms-"))}
    headers.pop("x-shopify-hmac-sha256", None)
    headers.pop("x-wms-signature", None)
    return orjson.dumps(
        {
            "original_topic": topic,
            "key": key,
            "headers": {**headers, "content-type": request.headers.get("content-type")},
            "error": error[:4000],
            "reason": "invalid_body",
            "group": SOURCE,
            "failed_at": time.time(),
            "value": body.decode("utf-8", "replace"),
            "value_b64": base64.b64encode(body).decode(),
        }
    )
