"""``customers/redact`` and ``shop/redact`` reach what a DLQ still holds (#22, ADR 0030).

A dead letter keeps a record as it arrived, for up to two weeks (``RAW_BODY_RETENTION_MS``),
and Kafka cannot rewrite one record. So the erasure is applied where records are read: the
receiver, before it answers a compliance request, adds its subjects to a redaction list in
Redis, and every reader of dead letters (:class:`stocksync_common.dlq.admin.DlqAdmin`, behind
the DLQ API, the console's pages and ``stocksync-dlq``) consults it. A record that names a
subject on the list is read with its customer data *removed* (:func:`redacted`), for every
role, admins and ``--raw`` included, and a replay sends that stripped value; a record whose
value is not JSON (its customer could be anywhere in it) is read with the value withheld and
is never replayed (:data:`REDACTED_UNREADABLE`).

The list (``dlq:redactions``, a sorted set, each member scored with the time it may be
forgotten: as long as a DLQ keeps a record) holds, never an email in clear::

    customer:<id>        customers/redact: the customer (Shopify's ids are global)
    order:<id>           customers/redact: each order in orders_to_redact
    email:<sha256>       customers/redact: the customer's email, lower-cased, as a digest
    shop:<domain>        shop/redact: every record of the shop

A record's subjects (:func:`subjects_of_record`): its shop (the ``X-Shopify-Shop-Domain``
header, ``shop`` or ``shop_domain`` fields), customer ids (``customer_id``, a ``customer``
object's ``id``), order ids (``order_id``, ``order_ids``, an order body's ``id``: an object
with ``line_items``) at any depth of its JSON value, JSON in strings too, and every email
address anywhere in the record. Matching is by identifiers, so a record that names the
customer only by name or phone in free text is not found (the masking of non-admin views
still applies to it).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.asyncio import Redis

from stocksync_common.pii import EMAIL, masked_headers, masked_text, without_pii
from stocksync_common.redis_keys import REDACTIONS_KEY as KEY
from stocksync_common.topics import RAW_BODY_RETENTION_MS

KEEP_S = RAW_BODY_RETENTION_MS // 1000  # as long as a DLQ keeps a record
REDACTED_UNREADABLE = (
    "redacted: a customer or shop named in it was erased (customers/redact, shop/redact), "
    "and its value is not JSON, so the customer data cannot be removed from it: it is not "
    "sent again (purge it, or let the DLQ's retention drop it)"
)
WITHHELD = "[withheld: erased by a compliance request]"
_ORDER_ID_KEYS = ("order_id", "order_ids", "orders_to_redact")


def email_subject(email: str) -> str:
    return "email:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _id(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        return None
    return str(value)


def subjects_of_request(topic: str, shop: str, body: dict[str, Any]) -> list[str]:
    """What a compliance request erases, as redaction-list members."""
    if topic == "shop/redact":
        return [f"shop:{shop}"]
    if topic != "customers/redact":
        return []
    found = []
    customer = body.get("customer")
    if isinstance(customer, dict):
        if (cid := _id(customer.get("id"))) is not None:
            found.append(f"customer:{cid}")
        if isinstance(customer.get("email"), str) and customer["email"].strip():
            found.append(email_subject(customer["email"]))
    orders = body.get("orders_to_redact")
    for oid in orders if isinstance(orders, list) else []:
        if (order := _id(oid)) is not None:
            found.append(f"order:{order}")
    return found


def _walk(doc: Any, depth: int = 0) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """(key, value, the object holding it) at every depth, JSON inside strings too."""
    if depth > 32:
        return
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield str(key), value, doc
            yield from _walk(value, depth + 1)
    elif isinstance(doc, list):
        for value in doc:
            yield from _walk(value, depth + 1)
    elif isinstance(doc, str) and doc.strip()[:1] in ("{", "["):
        try:
            yield from _walk(json.loads(doc), depth + 1)
        except ValueError:
            return


def _ids(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [i for i in (_id(v) for v in items) if i is not None]


def subjects_of_record(body: dict[str, Any]) -> set[str]:
    """The redaction-list members a dead letter's body names (see the module docstring)."""
    found: set[str] = set()
    headers = body.get("headers") if isinstance(body.get("headers"), dict) else {}
    for name, value in (headers or {}).items():
        if str(name).lower() == "x-shopify-shop-domain":
            found.add(f"shop:{str(value).strip().lower()}")
    for key, value, holder in _walk(body.get("value")):
        if key in ("shop", "shop_domain") and isinstance(value, str):
            found.add(f"shop:{value.strip().lower()}")
        elif key == "customer_id":
            found.update(f"customer:{i}" for i in _ids(value))
        elif key == "customer" and isinstance(value, dict):
            found.update(f"customer:{i}" for i in _ids(value.get("id")))
        elif key in _ORDER_ID_KEYS or (key == "id" and "line_items" in holder):
            found.update(f"order:{i}" for i in _ids(value))
    text = json.dumps(body, ensure_ascii=False, default=str)
    found.update(email_subject(e) for e in EMAIL.findall(text))
    return found


def redacted(body: dict[str, Any]) -> dict[str, Any]:
    """A dead letter's body with its customer data removed: a JSON value without the
    :data:`stocksync_common.pii.PII_FIELDS` (what the receiver publishes; order-consumer reads
    an order from it) and emails masked in what remains; any other value withheld whole and
    its raw bytes dropped; headers masked; the error reduced to its exception's type and the
    stack withheld (either may quote the input; the record's ``reason`` stays)."""
    out = {**body, "redacted": True}
    out.pop("value_b64", None)
    value = body.get("value")
    try:
        doc = json.loads(value) if isinstance(value, str) and "value_b64" not in body else None
    except ValueError:
        doc = None
    if isinstance(doc, dict | list):
        out["value"] = masked_text(json.dumps(without_pii(doc)[0], ensure_ascii=False))
    else:
        out["value"], out["value_withheld"] = WITHHELD, True
    if isinstance(body.get("headers"), dict):
        out["headers"] = masked_headers({str(k): str(v) for k, v in body["headers"].items()})
    if isinstance(body.get("error"), str):
        # an error message may quote its input (pydantic's does, whole): the type is kept
        kind = body["error"].split(":", 1)[0][:200]
        out["error"] = f"{kind}: {WITHHELD}"
    if isinstance(body.get("stack"), list):
        out["stack"] = [WITHHELD] if body["stack"] else []
    return out


class Redactions(Protocol):
    """The redaction list: the receiver adds to it, every DLQ reader reads it."""

    async def add(self, subjects: Iterable[str]) -> None: ...

    async def current(self) -> frozenset[str]: ...


@dataclass
class RedisRedactions:
    """The list in Redis (:data:`KEY`), each member kept :data:`KEEP_S` after it was added."""

    redis: Redis
    keep_s: int = KEEP_S
    key: str = KEY

    async def add(self, subjects: Iterable[str]) -> None:
        now = time.time()
        members = dict.fromkeys(subjects, now + self.keep_s)
        if not members:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self.key, members)
            pipe.zremrangebyscore(self.key, "-inf", now)  # forgotten: its records are gone
            pipe.expire(self.key, self.keep_s)
            await pipe.execute()

    async def current(self) -> frozenset[str]:
        members = await self.redis.zrangebyscore(self.key, time.time(), "+inf")
        return frozenset(m.decode() if isinstance(m, bytes) else str(m) for m in members)


@dataclass
class MemoryRedactions:
    """The list in this process (tests; a receiver built without Redis)."""

    subjects: set[str] = field(default_factory=set)

    async def add(self, subjects: Iterable[str]) -> None:
        self.subjects.update(subjects)

    async def current(self) -> frozenset[str]:
        return frozenset(self.subjects)
