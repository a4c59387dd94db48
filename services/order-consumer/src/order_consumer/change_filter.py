"""The decoder of order-consumer's ``inventory.changed.v1`` group (#19).

That group acts on three kinds of record (``OrderHandler.handle_inventory_batch``):
``order.oversold``, a routed reservation's change (``routed`` set) and a waiting line served
(``rereserved``). Every other change, nearly all of them, it skips, yet validating each whole
with pydantic was 44% of order-consumer's samples at the knee (docs/profiling.md, fourteenth
session). A change in the usual shape whose ``routed`` is absent or null and whose
``rereserved`` is absent or false is told apart with orjson and handed on as :class:`Skipped`
(its type and correlation id: what the consumer loop reads). Everything else, including any
record not in that shape, goes through the full decode as before: what the handler acts on
is validated as before, and what pydantic refuses is refused with its reason naming the
field, for the consumer to dead-letter. A skipped change is not validated here (the
consumers that read its fields, shopify-sync and the notifier, check those).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from stocksync_common.consumer import Decoded
from stocksync_common.events import Envelope, Event, changed_document, decode

CHANGED = "inventory.changed"


class Skipped(NamedTuple):
    """An ``inventory.changed`` this group does not act on, its payload unread."""

    type: str
    correlation_id: str


def decode_changes(
    raw: bytes | None, full: Callable[[bytes | None], Event] = decode
) -> Event | Envelope | Decoded:
    """``raw`` as :class:`Skipped` when it is a change the handler skips, else ``full(raw)``."""
    doc = changed_document(raw)
    if doc is None:  # a tombstone, another event, not JSON: in full (refused as before)
        return full(raw)
    payload, correlation_id = doc.get("payload"), doc.get("correlation_id")
    if (
        type(payload) is dict
        and type(correlation_id) is str
        and payload.get("routed") is None
        and payload.get("rereserved", False) is False
    ):
        return Skipped(CHANGED, correlation_id)
    return full(raw)
