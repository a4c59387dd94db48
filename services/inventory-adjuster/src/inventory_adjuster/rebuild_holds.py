"""Routed order lines' holds, rebuilt from ``inventory.changed.v1`` (issue #23; ADR 0018).

A routed command keeps what its order line holds per location in
``inv:{sku}:hold:<shop>:<order>:<line>`` (apply.lua's KEYS[4]); a routed line served from the
waiting list parks its units in ``inv:{sku}:waited`` (KEYS[6]) until its next routed command
moves them into the hold. No levels record carries them (a hot SKU may have thousands of open
lines: every record of every command would carry them all), so without this a rebuild left
every line whose reserve its levels cover holding nothing: the line's release moved nothing
(its units stayed reserved for good) and a shipment took on-hand where the command said.

The changes topic tells each hold's story: every change of a routed command, and every
re-reservation of a routed waiting line, names its order line (``order``), carries
``routed`` and says how the location's ``reserved`` moved (``before``/``after``), which is
exactly how the script moved the line's hold there (``HINCRBY`` by the same units). So a
line's hold as of its SKU's restored levels is the sum of those moves, in topic order, of the
changes the levels include:

- a change of a command the rebuild replays is left out (the replay moves the hold again),
  as is a re-reservation served by one (the replay serves the line again);
- a change published again (a duplicate re-sends its first result with the same ids)
  counts once;
- a parked hold is restored as the line's hold: the line's next routed command would have
  moved it there before reading it, and nothing else reads it.

Each line the changes or the replayed commands name is replaced (``DEL``, then its
locations), its parked field dropped, so a rebuild run again does not add a replayed
reserve to the hold the first run left (ADR 0008, "A rebuild run twice"). The hold expires
the hold TTL after its last change, as it would have (ADR 0035). Only the changes still
retained can say anything: a line whose changes are all older than the topic's retention is
not restored (its release then moves nothing, as before), and one a replayed command names is
emptied before the replay (as on an empty Redis). A routed kit line's hold (its kits per
location, ``inv:{kit}:hold:...``; issue #23) is told the same way by the kit's own changes:
its placement, its ``rereserved`` change when it waited, and a change of each routed release
or commit that took kits off it (``kit_events.kit_hold_change``). A kit line served from its
waiting list by a command the rebuild replays is left out as a plain one is, but the replay
does not serve kit lines (ADR 0037 §2, limits): that line's hold is not restored (its release
then moves kits at its command's location).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from aiokafka.structs import ConsumerRecord
from redis.asyncio import Redis

from inventory_adjuster.adapters.redis_store import (
    Arg,
    hold_line,
    line_hold_key,
    waited_key,
    write_simple,
)
from stocksync_common.events import InventoryChanged, decode

Records = Sequence[ConsumerRecord[bytes, bytes]]
CHANGED = b"inventory.changed"


class Move(NamedTuple):
    """One routed change of an order line's hold at one location."""

    line: str  # hold_line(shop, order, line)
    location: str
    units: int  # how the location's reserved moved: the hold moved the same
    key: str  # the idempotency key of the command (a re-reservation: the refused reserve's)
    cause: str  # the causation id (a re-reservation: the event of the command that served it)
    rereserved: bool
    ts_ms: int


@dataclass
class Hold:
    """One order line's hold as the rebuild writes it."""

    at: dict[str, int]
    last_ms: int  # the timestamp of its last change: it expires the TTL after it


@dataclass
class HoldHistory:
    """What the changes topic says about each SKU's routed lines, in topic order."""

    moves: dict[str, list[Move]] = field(default_factory=dict)
    ids: set[str] = field(default_factory=set)
    undecodable: int = 0

    def take(self, records: Records) -> None:
        for r in records:
            kind = next((v for k, v in r.headers if k == "type"), b"")
            raw = r.value or b""
            # cheap filter first: only a routed change carries a placement
            if kind == CHANGED and b'"routed":{' in raw:
                self._moved(raw, r.timestamp)

    def _moved(self, raw: bytes, ts_ms: int) -> None:
        event = _decode(raw)
        if not isinstance(event, InventoryChanged):
            self.undecodable += 1
            return
        c = event.payload
        if c.routed is None or c.order is None or c.order.line_id is None:
            return
        if event.id in self.ids:  # published again by a duplicate: its first result
            return
        self.ids.add(event.id)
        self.moves.setdefault(c.sku, []).append(
            Move(
                hold_line(c.order.shop, c.order.order_id, c.order.line_id),
                c.location,
                c.after.reserved - c.before.reserved,
                c.idempotency_key,
                event.causation_id or "",
                c.rereserved,
                ts_ms,
            )
        )

    def holds(
        self,
        skus: Iterable[str],
        replayed_keys: Collection[tuple[str, str]],
        replayed_ids: Collection[str],
    ) -> tuple[dict[str, dict[str, Hold]], dict[str, set[str]]]:
        """Each SKU's holds as of its restored levels (lines holding something), and every
        line of it the changes name (those to replace)."""
        holds: dict[str, dict[str, Hold]] = {}
        named: dict[str, set[str]] = {}
        for sku in skus:
            lines: dict[str, Hold] = {}
            for m in self.moves.get(sku, ()):
                named.setdefault(sku, set()).add(m.line)
                if (m.rereserved and m.cause in replayed_ids) or (
                    not m.rereserved and (sku, m.key) in replayed_keys
                ):
                    continue  # the replay moves it again
                hold = lines.setdefault(m.line, Hold({}, m.ts_ms))
                hold.at[m.location] = hold.at.get(m.location, 0) + m.units
                hold.last_ms = max(hold.last_ms, m.ts_ms)
            kept = {}
            for line, hold in lines.items():
                hold.at = {loc: n for loc, n in sorted(hold.at.items()) if n > 0}
                if hold.at:
                    kept[line] = hold
            if kept:
                holds[sku] = kept
        return holds, named


def _decode(raw: bytes) -> object:
    try:
        return decode(raw)
    except ValueError:  # pydantic's ValidationError is a ValueError
        return None


async def restore_holds(
    redis: Redis,
    holds: Mapping[str, Mapping[str, Hold]],
    replace: Mapping[str, Collection[str]],
    ttl_s: int | None,
) -> int:
    """Replace the holds of the lines in ``replace`` (per SKU) by ``holds`` (absent: none),
    dropping their parked fields; each hold expires ``ttl_s`` after its last change (None
    or 0: never). Every key is the SKU's (its ``{sku}`` slot). The holds written."""
    commands: list[list[Arg]] = []
    for sku, lines in replace.items():
        if lines:
            for line in sorted(lines):
                commands.append(["DEL", line_hold_key(sku, line)])
            commands.append(["HDEL", waited_key(sku), *sorted(lines)])
    written = 0
    for sku, mine in holds.items():
        for line, hold in sorted(mine.items()):
            key = line_hold_key(sku, line)
            flat: list[Arg] = [x for loc, n in hold.at.items() for x in (loc, n)]
            commands.append(["HSET", key, *flat])
            if ttl_s:
                commands.append(["PEXPIREAT", key, hold.last_ms + ttl_s * 1000])
            written += 1
    await write_simple(redis, commands)
    return written
