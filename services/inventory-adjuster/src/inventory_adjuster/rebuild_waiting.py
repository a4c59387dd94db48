"""The waiting list of refused order lines, rebuilt from ``inventory.changed.v1`` (ADR 0031).

The list (``inv:{sku}:waiting``, apply.lua's WAITING LIST) is not in the levels records, so
the rebuild takes it from the events that tell its story, in topic order (one SKU's events
share a partition): an ``order.oversold`` with ``waiting: true`` queued a line (its key,
order line, location, units and, routed, its route: ``tried`` and ``split``); a change with
``rereserved: true`` took it off. The list restored is the one the restored levels go with:

- a refusal by a command the rebuild replays (after its SKU's levels) is left out: the
  replay refuses it again and queues it itself;
- a re-reservation caused by a replayed command does not take its line off: the replay
  serves it again (the levels do not hold its units).

Each entry keeps the time of its refusal (the record's timestamp), so one older than the
idempotency TTL is dropped when the list is next served, as it would have been. Only the
events still retained can say anything: a line refused before the topic's retention began
is not restored (named in ADR 0031).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import orjson
from aiokafka.structs import ConsumerRecord
from redis.asyncio import Redis

from inventory_adjuster.adapters.redis_store import waiting_key
from stocksync_common.events import InventoryChanged, OrderOversold, decode

Records = Sequence[ConsumerRecord[bytes, bytes]]
OVERSOLD = b"order.oversold"
CHANGED = b"inventory.changed"


@dataclass
class WaitingHistory:
    """What the changes topic says about each SKU's waiting list, in topic order."""

    queued: dict[str, list[tuple[str, dict[str, object]]]] = field(default_factory=dict)
    served: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # key, cause id
    undecodable: int = 0

    def take(self, records: Records) -> None:
        for r in records:
            kind = next((v for k, v in r.headers if k == "type"), b"")
            raw = r.value or b""
            # cheap filters first: the topic carries every change of every SKU
            if kind == OVERSOLD and b'"waiting":true' in raw:
                self._queued(raw, r.timestamp)
            elif kind == CHANGED and b'"rereserved":true' in raw:
                self._served(raw)

    def _queued(self, raw: bytes, ts_ms: int) -> None:
        event = _decode(raw)
        if not isinstance(event, OrderOversold) or event.payload.order is None:
            self.undecodable += 1
            return
        p, o = event.payload, event.payload.order
        entry: dict[str, object] = {
            "key": p.idempotency_key,
            "shop": o.shop,
            "order_id": o.order_id,
            "line_id": o.line_id,
            "location": p.location,
            "quantity": p.requested,
            "t": ts_ms,
        }
        if p.tried:
            entry["route"] = {"locations": p.tried, "split": p.split}
        self.queued.setdefault(p.sku, []).append((p.idempotency_key, entry))

    def _served(self, raw: bytes) -> None:
        event = _decode(raw)
        if not isinstance(event, InventoryChanged):
            self.undecodable += 1
            return
        c = event.payload
        self.served.setdefault(c.sku, []).append((c.idempotency_key, event.causation_id or ""))

    def lists(
        self, skus: Iterable[str], replayed_keys: set[tuple[str, str]], replayed_ids: set[str]
    ) -> dict[str, list[dict[str, object]]]:
        """Each SKU's list as of its restored levels (see the module doc); SKUs with none
        left out."""
        out = {}
        for sku in skus:
            gone = {k for k, cause in self.served.get(sku, ()) if cause not in replayed_ids}
            entries, seen = [], set()
            for key, entry in self.queued.get(sku, ()):
                if key in gone or key in seen or (sku, key) in replayed_keys:
                    continue
                seen.add(key)  # an event published again (a replayed refusal) queued it once
                entries.append(entry)
            if entries:
                out[sku] = entries
        return out


def _decode(raw: bytes) -> object:
    try:
        return decode(raw)
    except ValueError:  # pydantic's ValidationError is a ValueError
        return None


async def restore_waiting(
    redis: Redis, lists: dict[str, list[dict[str, object]]], skus: Iterable[str] = ()
) -> int:
    """Write the lists (each replaces what the SKU's key held); the lists of the other
    ``skus`` (restored, with no entry left) are emptied, so a rerun does not queue the
    replay's refusals twice. The entries written."""
    pipe = redis.pipeline(transaction=False)
    for sku in {*skus, *lists}:
        pipe.delete(waiting_key(sku))
    for sku, entries in lists.items():
        pipe.rpush(waiting_key(sku), *(orjson.dumps(e) for e in entries))
    await pipe.execute()
    return sum(len(e) for e in lists.values())
