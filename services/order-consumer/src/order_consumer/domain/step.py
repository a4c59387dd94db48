"""One webhook being applied: a private copy of the order state and the effects it produced.

The rules in :mod:`lifecycle` and :mod:`facts` move a line's counters; :meth:`Step.settle`
then brings each line's reservation to exactly its open units less those a refused
reservation left unheld (nothing once the order is cancelled), so every webhook ends in a
diff, never in an absolute command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel

from order_consumer.domain.keys import command_key, event_id
from order_consumer.domain.payloads import LineItem
from order_consumer.domain.state import FactRecord, LineState, Notice, OrderState
from stocksync_common.events import (
    CommandName,
    Envelope,
    InventoryCommand,
    OrderLineQuantity,
    OrderLineRef,
    OrderLineUnmapped,
    UnmappedLine,
)
from stocksync_common.stores import Store

ROUTED_COMMANDS = frozenset(("reserve", "release", "commit"))
# The sign of each command's move of on-hand (what an unmapped line keeps for later).
UNMAPPED_ON_HAND: dict[str, int] = {"adjust": 1, "commit": -1}


def map_sku(item: LineItem, skumap: Mapping[str, str]) -> str | None:
    """The line's own SKU, else the store's variant mapping (``skumap:{shop}``), else None."""
    if item.sku:
        return item.sku
    return skumap.get(item.variant_id) if item.variant_id else None


@dataclass
class Step:
    state: OrderState
    store: Store
    skumap: Mapping[str, str]
    commands: list[InventoryCommand] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    held: set[str] = field(default_factory=set)  # lines no settle may touch for now
    # Locations whose shipments the WMS commits (wms-connector): no stock moves from here.
    wms_locations: frozenset[str] = frozenset()

    def location(self, location_id: str | None) -> str | None:
        """Our location for a Shopify location id, when the stores file maps it."""
        if location_id is None:
            return None
        return self.store.location_for_gid(f"gid://shopify/Location/{location_id}")

    def line(self, item: LineItem, location: str) -> LineState:
        """The line's state, registered and mapped to a SKU on first sight."""
        line = self.state.lines.get(item.id)
        if line is None:
            line = LineState(
                line_id=item.id,
                sku=map_sku(item, self.skumap),
                variant_id=item.variant_id,
                product_id=item.product_id,
                title=item.title,
                location=location,
            )
            self.state.lines[item.id] = line
            if line.sku is None:
                self._unmapped(line, item.quantity)
        elif line.sku is None:
            line.sku = map_sku(item, self.skumap)  # the mapping may have arrived since
            if line.sku is not None:
                self._catch_up(line)
        return line

    def _catch_up(self, line: LineState) -> None:
        """A line mapped to a SKU only now: the on-hand moves its shipments and returns made
        while it had none (``adjust`` per location, key ``...:adjust:mapped:{location}``),
        once: they are recorded with the fact that mapped it (ADR 0022, c)."""
        moves, line.unmapped_on_hand = line.unmapped_on_hand, {}
        for loc, delta in sorted(moves.items()):
            self.command(line, "adjust", delta, "mapped", location=loc, detail=loc)

    def command(
        self,
        line: LineState,
        command: CommandName,
        quantity: int,
        fact: str,
        *,
        location: str | None = None,
        detail: str = "",
        undoes: str | None = None,
    ) -> None:
        if line.sku is None and quantity != 0 and command in UNMAPPED_ON_HAND:
            # Unmapped: nothing to send yet; what it would take off (or put back on) hand is
            # kept for when the line is mapped (``_catch_up``).
            at = location or line.location
            delta = UNMAPPED_ON_HAND[command] * quantity
            line.unmapped_on_hand[at] = line.unmapped_on_hand.get(at, 0) + delta
        if line.sku is None or quantity == 0:
            return
        s = self.state
        # A routed order: the adjuster picks (reserve) and follows (release, commit) the
        # locations of the line's units (ADR 0018).
        route = s.route if command in ROUTED_COMMANDS else None
        self.commands.append(
            InventoryCommand(
                command=command,
                idempotency_key=command_key(
                    s.shop, s.order_id, line.line_id, command, fact, detail
                ),
                sku=line.sku,
                location=location or line.location,
                quantity=quantity,
                order=OrderLineRef(shop=s.shop, order_id=s.order_id, line_id=line.line_id),
                reason=f"shopify {fact}",
                route=route,
                undoes=undoes,
            )
        )

    def notice(self, kind: type[Envelope], payload: BaseModel, fact: str) -> None:
        event_type = str(kind.model_fields["type"].default)
        self.notices.append(
            Notice(
                type=event_type,
                id=event_id(event_type, self.state.shop, self.state.order_id, fact),
                payload=payload.model_dump(mode="json"),
            )
        )

    def mark(self) -> tuple[int, int]:
        return len(self.commands), len(self.notices)

    def record(
        self,
        fact: str,
        since: tuple[int, int],
        children: Iterable[str] = (),
        *,
        keep_empty: bool = True,
    ) -> None:
        """Remember a fact as applied, with the effects it produced since ``since`` other
        than those its ``children`` (facts applied inside it) recorded themselves."""
        kids = [self.state.facts[c] for c in children]
        keys = {c.idempotency_key for k in kids for c in k.commands}
        ids = {n.id for k in kids for n in k.notices}
        record = FactRecord(
            commands=[c for c in self.commands[since[0] :] if c.idempotency_key not in keys],
            notices=[n for n in self.notices[since[1] :] if n.id not in ids],
            children=list(children),
        )
        if keep_empty or record.commands or record.notices or record.children:
            self.state.facts[fact] = record

    def apply_fact(self, fact: str, rule: Callable[[], bool]) -> bool:
        """Apply a fact's rule, settle the reservations, and remember the fact with its
        effects; False when the rule had nothing to apply (a fulfillment not shipped yet)."""
        since = self.mark()
        if not rule():
            return False
        self.settle(fact)
        self.record(fact, since)
        return True

    def settle(self, fact: str, only: set[str] | None = None) -> list[OrderLineQuantity]:
        """Reserve or release so each known line (of ``only``, if given) holds its open
        units but those left unheld by a refusal; the changes made."""
        closed = self.state.cancelled or self.state.deleted
        changes = []
        for line in self.state.lines.values():
            if line.sku is None or not line.confirmed or line.line_id in self.held:
                continue
            if only is not None and line.line_id not in only:
                continue
            target = 0 if closed else line.open
            # Units a refusal left unheld are never reserved again; when the open units
            # shrink they go first, so only units really held are released.
            line.unheld = min(line.unheld, max(0, target - line.reserved))
            diff = target - line.reserved - line.unheld
            if diff == 0:
                continue
            self.command(line, "reserve" if diff > 0 else "release", abs(diff), fact)
            line.reserved += diff
            changes.append(OrderLineQuantity(line_id=line.line_id, sku=line.sku, quantity=diff))
        return changes

    def _unmapped(self, line: LineState, quantity: int) -> None:
        payload = UnmappedLine(
            shop=self.state.shop,
            order_id=self.state.order_id,
            line_id=line.line_id,
            variant_id=line.variant_id,
            product_id=line.product_id,
            title=line.title,
            quantity=quantity,
        )
        self.notice(OrderLineUnmapped, payload, f"line:{line.line_id}")
