"""What both webhook endpoints share, as plain ASGI: headers read once, bounded bodies,
refusals and answers encoded with orjson (ADR 0015).

The endpoints are raw ASGI handlers ``(container, scope, receive, send)``: the app sends the
two webhook POSTs straight to them, past FastAPI's middleware, routing and response
classes. Their FastAPI routes stay for the OpenAPI description and, should a request reach
FastAPI's router all the same, hand it to the same handler (:class:`Handled`).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Literal

import orjson
from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from webhook_receiver.bootstrap import Container
from webhook_receiver.domain.freshness import staleness
from webhook_receiver.intake import Outcome
from webhook_receiver.metrics import ACK_SECONDS, WEBHOOKS

MAX_ID_CHARS = 255
SOURCE = "webhook-receiver"

Headers = dict[str, str]  # lower-case name -> value (the first one, as Starlette's get)
Edge = Callable[[Container, Scope, Receive, Send], Awaitable[None]]


class WebhookAck(BaseModel):
    """The 200 answer (OpenAPI only: the handlers encode it with orjson)."""

    status: Literal["accepted", "duplicate"]
    event_id: str


class WebhookError(BaseModel):
    """Every other answer (OpenAPI only)."""

    detail: str
    errors: list[str] | None = None


class Rejected(Exception):
    """A delivery refused with ``status``; ``outcome`` is its metric label."""

    def __init__(
        self, status: int, detail: str, outcome: str, *, errors: list[str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.outcome, self.errors = status, detail, outcome, errors

    async def send(self, send: Send) -> None:
        doc: dict[str, object] = {"detail": self.detail}
        if self.errors is not None:
            doc["errors"] = self.errors
        await answer(send, self.status, orjson.dumps(doc), retry=self.status in (429, 503))


class ClientGone(Exception):
    """The client disconnected before its body arrived: there is no one to answer."""


# Outcomes that are not a 200: status, detail, metric label (a fresh exception per refusal).
REFUSALS: dict[Outcome, tuple[int, str, str]] = {
    Outcome.IN_FLIGHT: (503, "this delivery is being published; retry later", "in_flight"),
    Outcome.RATE_LIMITED: (429, "too many deliveries this second; retry later", "rate_limited"),
    Outcome.UNAVAILABLE: (503, "cannot make the delivery durable now; retry later", "unavailable"),
    Outcome.TOO_LARGE: (413, "body too large for the event log", "too_large"),
}

_JSON = (b"content-type", b"application/json")
_RETRY = (b"retry-after", b"1")


def headers_of(scope: Scope) -> Headers:
    """Every request header, decoded once; the first of repeated names wins."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in reversed(scope["headers"])}


async def answer(send: Send, status: int, body: bytes, *, retry: bool = False) -> None:
    headers = [_JSON, (b"content-length", str(len(body)).encode())]
    if retry:
        headers.append(_RETRY)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def acknowledge(send: Send, outcome: Outcome, event_id: str) -> None:
    """200 for an accepted or duplicate delivery; raises :class:`Rejected` otherwise."""
    if outcome in REFUSALS:
        raise Rejected(*REFUSALS[outcome])
    status = "duplicate" if outcome is Outcome.DUPLICATE else "accepted"
    await answer(send, 200, orjson.dumps({"status": status, "event_id": event_id}))


def counted(source: str, outcome: str, started: float) -> None:
    """The delivery's outcome and its time to answer, on the metrics."""
    WEBHOOKS.labels(source, outcome).inc()
    ACK_SECONDS.labels(source).observe(time.perf_counter() - started)


def check_declared_length(h: Headers, limit: int) -> None:
    declared = h.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Rejected(413, f"body larger than {limit} bytes", "too_large")


async def read_bounded(receive: Receive, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it grows past ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Rejected(413, f"body larger than {limit} bytes", "too_large")
        if not message.get("more_body", False):
            if not chunks:  # the usual case: one message
                return chunk
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)


def require_headers(h: Headers, names: list[str]) -> list[str]:
    """The values of ``names``, in order; 400 naming the first one missing."""
    values = []
    for name in names:
        value = h.get(name.lower(), "").strip()
        if not value:
            raise Rejected(400, f"missing header {name}", "bad_request")
        values.append(value)
    return values


def check_fresh(c: Container, name: str, at: datetime | None) -> None:
    """400 for a delivery stamped outside the accepted window (``domain.freshness``)."""
    if at is None:
        raise Rejected(400, f"invalid {name}: not an ISO 8601 instant with a zone", "bad_request")
    s = c.settings
    reason = staleness(at, datetime.now(UTC), s.max_delivery_age_s, s.max_clock_skew_s)
    if reason is not None:
        raise Rejected(400, f"{name}: {reason}", "stale")


def check_id(name: str, value: str) -> str:
    if len(value) > MAX_ID_CHARS or not value.isascii() or not value.isprintable():
        raise Rejected(400, f"invalid header {name}", "bad_request")
    return value


def require_json(h: Headers) -> None:
    media = h.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise Rejected(415, "Content-Type must be application/json", "unsupported_media_type")


def dead_letter(h: Headers, topic: str, key: str, body: bytes, error: str) -> bytes:
    """A DLQ record in the consumers' shape, plus the exact raw body (``value_b64``)."""
    headers = {k: v for k, v in h.items() if k.startswith(("x-shopify-", "x-wms-"))}
    headers.pop("x-shopify-hmac-sha256", None)
    headers.pop("x-wms-signature", None)
    return orjson.dumps(
        {
            "original_topic": topic,
            "key": key,
            "headers": {**headers, "content-type": h.get("content-type")},
            "error": error[:4000],
            "reason": "invalid_body",
            "group": SOURCE,
            "failed_at": time.time(),
            "value": body.decode("utf-8", "replace"),
            "value_b64": base64.b64encode(body).decode(),
        }
    )


def container_of(request: Request) -> Container:
    """The lifespan's container, read directly (no ``Depends`` on the webhook routes)."""
    c: Container = request.app.state.container
    return c


class Handled(Response):
    """What a webhook route returns: the request, as ASGI, handed to its raw handler, so a
    request that reached FastAPI's router runs exactly the code of the fast path."""

    def __init__(self, edge: Edge, container: Container) -> None:
        super().__init__()
        self.edge, self.container = edge, container

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.edge(self.container, scope, receive, send)
