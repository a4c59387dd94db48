"""Routed lines' holds as the rebuild derives them from the changes topic (rebuild_holds)."""

from __future__ import annotations

from dataclasses import dataclass

from inventory_adjuster.rebuild_holds import HoldHistory
from stocksync_common.events import (
    InventoryChanged,
    Levels,
    OrderLineRef,
    StockChange,
    encode,
)

SKU = "S-1"
LINE = "shop-1.myshopify.com:1001:1"


@dataclass
class Record:
    value: bytes
    timestamp: int
    headers: tuple[tuple[str, bytes], ...] = (("type", b"inventory.changed"),)


def change(
    event_id: str,
    key: str,
    loc: str,
    reserved: tuple[int, int],
    *,
    command: str = "reserve",
    routed: bool = True,
    rereserved: bool = False,
    cause: str | None = None,
    order: str = "1001",
) -> InventoryChanged:
    before, after = Levels(reserved=reserved[0]), Levels(reserved=reserved[1])
    return InventoryChanged(
        id=event_id,
        causation_id=cause,
        source="it",
        payload=StockChange(
            sku=SKU,
            location=loc,
            command=command,  # type: ignore[arg-type]
            idempotency_key=key,
            version=1,
            before=before,
            after=after,
            sku_available_before=0,
            sku_available_after=0,
            order=OrderLineRef(shop="shop-1.myshopify.com", order_id=order, line_id="1"),
            routed={loc: abs(reserved[1] - reserved[0])} if routed else None,
            rereserved=rereserved,
        ),
    )


def history(*events: InventoryChanged) -> HoldHistory:
    h = HoldHistory()
    h.take([Record(encode(e), 1000 + i) for i, e in enumerate(events)])  # type: ignore[misc]
    return h


def test_a_split_reserve_then_a_partial_release_leaves_the_rest_held() -> None:
    h = history(
        change("e1", "r", "wh-1", (0, 2)),
        change("e2", "r", "wh-2", (5, 7)),
        change("e1", "r", "wh-1", (0, 2)),  # a duplicate's events, published again
        change("e3", "rel", "wh-2", (7, 6), command="release"),
        change("e4", "other", "wh-1", (2, 3), routed=False),  # unrouted: no hold
    )
    holds, named = h.holds([SKU], set(), set())
    assert holds[SKU][LINE].at == {"wh-1": 2, "wh-2": 1}
    assert holds[SKU][LINE].last_ms == 1003
    assert named == {SKU: {LINE}}


def test_what_the_replay_moves_again_is_left_out() -> None:
    h = history(
        change("e1", "r", "wh-1", (0, 2)),
        change("e2", "rel", "wh-1", (2, 0), command="release"),
        change("e3", "w", "wh-2", (0, 3), rereserved=True, cause="cmd-9", order="1002"),
    )
    holds, named = h.holds([SKU], {(SKU, "rel")}, {"cmd-9"})
    assert holds == {SKU: {LINE: holds[SKU][LINE]}}
    assert holds[SKU][LINE].at == {"wh-1": 2}
    assert named[SKU] == {LINE, "shop-1.myshopify.com:1002:1"}  # replaced: emptied first


def test_a_line_fully_released_or_seen_only_in_part_holds_nothing() -> None:
    h = history(
        change("e1", "r", "wh-1", (0, 2)),
        change("e2", "rel", "wh-1", (2, 0), command="release"),
        change("e3", "old", "wh-2", (4, 1), command="release", order="1003"),
    )
    holds, named = h.holds([SKU], set(), set())
    assert holds == {}
    assert len(named[SKU]) == 2
