"""Refused kit lines reserved when their components come back (ADR 0037), through
order-consumer and inventory-adjuster in process on the real Kafka and Redis: an order line
of a kit refused for stock waits; a receipt of the short component reserves it, all its
components together, before a later kit line; the order's state holds the line's units again
(``rereserved``); a cancelled order's release serves the next one. In a store with routing
rules a kit line is placed whole at its line's location and the order routed."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from integration.order_consumer.harness import Rig, running, until_line, until_state
from redis.asyncio import Redis
from unit.order_consumer.payloads import fulfillment, item, order

from inventory_adjuster.adapters.redis_store import waiting_key
from order_consumer.adapters.redis_orders import RedisOrders
from stocksync_common.events import InventoryCommand, InventoryCommandRequested, SkuConfig
from stocksync_common.topics import INVENTORY_COMMANDS

pytestmark = pytest.mark.integration
ROUTING = {"locations": ["wh-1", "wh-2"], "split": False}
SPLIT_ROUTING = {"locations": ["wh-1", "wh-2"], "split": True}


async def test_a_refused_kit_line_is_reserved_when_its_component_comes_back(
    kafka_bootstrap: str, redis_url: str, redis: Redis, topics: list[str], tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8].upper()
    a, b, kit = f"KA-{run}", f"KB-{run}", f"KIT-{run}"
    x, y, z = (uuid.uuid4().int % 10**12 for _ in range(3))
    repo = RedisOrders(redis, ttl_s=60)

    async with running(kafka_bootstrap, redis_url, tmp_path) as rig:
        shop = rig.shop()
        await shop.stock(a, "set_on_hand", 4)
        await shop.stock(b, "set_on_hand", 1)
        await define_kit(rig, kit, {a: 2, b: 1})
        await rig.settled("stock loaded", b, (1, 0))

        await shop.webhook("orders/create", x, order(x, item(1, kit, 1)))  # fits
        await until_line(repo, "X reserved", x, reserved=1)
        await rig.settled("X holds its components", b, (1, 1))
        await shop.webhook("orders/create", y, order(y, item(1, kit, 1)))  # refused: waits
        await until_line(repo, "Y refused", y, unheld=1)
        await shop.webhook("orders/create", z, order(z, item(1, kit, 1)))  # refused: waits
        await until_line(repo, "Z refused", z, unheld=1)

        await shop.stock(a, "adjust", 2)  # A alone: the kit still lacks B, nothing held
        await rig.settled("A received", a, (6, 2))
        await shop.stock(b, "adjust", 1)  # B back: Y (first) is reserved, all of it
        held = await until_line(repo, "Y's state holds its kit again", y, reserved=1)
        assert (held.unheld, held.rereserved, held.oversold) == (0, 1, True)
        await rig.settled("Y holds A", a, (6, 4))
        await rig.settled("Y holds B", b, (2, 2))
        z_line = await until_line(repo, "Z still waits", z, unheld=1)
        assert z_line.reserved == 0

        # X cancelled: its components come back and serve Z
        await shop.webhook("orders/cancelled", x, order(x, item(1, kit, 1), updated=5,
                                                       cancelled=5))  # fmt: skip
        await until_line(repo, "Z's state holds its kit", z, reserved=1, unheld=0)
        await rig.settled("Z holds A", a, (6, 4))
        await rig.settled("Z holds B", b, (2, 2))
        served = [e for e in await rig.ledger(a) if ":waited:" in str(e.get("key"))]
        assert len(served) == 2  # Y's and Z's, once each


async def test_a_routed_stores_kit_line_is_placed_and_its_order_routed(
    kafka_bootstrap: str, redis_url: str, redis: Redis, topics: list[str], tmp_path: Path
) -> None:
    """A store with routing rules: a kit line is placed whole at its line's location and
    said so, so the order's ``order.routed`` goes out with it (it waited for the kit line for
    ever); a refused kit line served later is placed the same way (a follow-up)."""
    run = uuid.uuid4().hex[:8].upper()
    a, b, kit, plain = f"RKA-{run}", f"RKB-{run}", f"RKIT-{run}", f"RP-{run}"
    x, y = (uuid.uuid4().int % 10**12 for _ in range(2))
    repo = RedisOrders(redis, ttl_s=60)

    async with running(kafka_bootstrap, redis_url, tmp_path, routing=ROUTING) as rig:
        shop = rig.shop()
        await shop.stock(a, "set_on_hand", 2)
        await shop.stock(b, "set_on_hand", 1)
        await shop.stock(plain, "set_on_hand", 5)
        await define_kit(rig, kit, {a: 2, b: 1})
        await rig.settled("stock loaded", plain, (5, 0))

        await shop.webhook("orders/create", x, order(x, item(1, kit, 1), item(2, plain, 1)))
        routed = await until_state(repo, "X's order.routed published", x, lambda s: s.routed)
        assert routed.lines["1"].routed == {"wh-1": 1}
        assert routed.lines["2"].routed == {"wh-1": 1}
        await rig.settled("X holds B", b, (1, 1))

        await shop.webhook("orders/create", y, order(y, item(1, kit, 1)))  # refused: waits
        await until_state(
            repo, "Y refused, routed", y, lambda s: s.routed and s.lines["1"].unheld == 1
        )
        await shop.stock(a, "adjust", 2)
        await shop.stock(b, "adjust", 1)
        served = await until_state(repo, "Y's kit held", y, lambda s: s.lines["1"].reserved == 1)
        assert served.lines["1"].routed == {"wh-1": 1}


async def test_a_routed_stores_kit_line_goes_to_the_first_location_covering_it(
    kafka_bootstrap: str, redis_url: str, redis: Redis, topics: list[str], tmp_path: Path
) -> None:
    """Issue #23 (routing): a kit line short at the route's first location (wh-1) is
    reserved whole at the next one that covers it (wh-2), its components held there; the
    order's ``order.routed`` places it there; the line's cancel releases and its shipment
    commits at wh-2; a kit line no location covers is refused having tried both, and waits."""
    run = uuid.uuid4().hex[:8].upper()
    a, b, kit = f"RRA-{run}", f"RRB-{run}", f"RRKIT-{run}"
    x, y, z = (uuid.uuid4().int % 10**12 for _ in range(3))
    repo = RedisOrders(redis, ttl_s=60)

    async with running(kafka_bootstrap, redis_url, tmp_path, routing=ROUTING) as rig:
        shop = rig.shop()
        await shop.stock(a, "set_on_hand", 1)  # wh-1: A short (a kit takes 2)
        await shop.stock(b, "set_on_hand", 5)
        await shop.stock(a, "set_on_hand", 4, "wh-2")  # wh-2: two kits
        await shop.stock(b, "set_on_hand", 2, "wh-2")
        await define_kit(rig, kit, {a: 2, b: 1})
        await rig.settled("stock loaded", b, (2, 0), "wh-2")

        await shop.webhook("orders/create", x, order(x, item(1, kit, 1)))
        routed = await until_state(repo, "X's order.routed published", x, lambda s: s.routed)
        assert routed.lines["1"].routed == {"wh-2": 1}
        [notice] = [n for f in routed.facts.values() for n in f.notices
                    if n.type == "order.routed"]  # fmt: skip
        assert [(ln["sku"], ln["location"]) for ln in notice.payload["lines"]] == [(kit, "wh-2")]
        await rig.settled("X holds A at wh-2", a, (4, 2), "wh-2")
        await rig.settled("X holds B at wh-2", b, (2, 1), "wh-2")
        assert (await rig.levels(a), await rig.levels(b)) == ((1, 0), (5, 0))

        await shop.webhook("orders/create", y, order(y, item(1, kit, 1)))
        await until_state(repo, "Y placed", y, lambda s: s.lines["1"].routed == {"wh-2": 1})
        await rig.settled("Y holds A at wh-2", a, (4, 4), "wh-2")

        # X cancelled: released where it is held (its command names wh-1)
        await shop.webhook("orders/cancelled", x, order(x, item(1, kit, 1), updated=5,
                                                       cancelled=5))  # fmt: skip
        await rig.settled("X's A released at wh-2", a, (4, 2), "wh-2")
        await rig.settled("X's B released at wh-2", b, (2, 1), "wh-2")

        # Y shipped (Shopify names no location): committed where it is held
        shipped = order(y, item(1, kit, 1), updated=6,
                        fulfillments=(fulfillment(71, y, (1, 1), sku=kit),))  # fmt: skip
        await shop.webhook("orders/updated", y, shipped)
        await rig.settled("Y's A shipped from wh-2", a, (2, 0), "wh-2")
        await rig.settled("Y's B shipped from wh-2", b, (1, 0), "wh-2")
        assert (await rig.levels(a), await rig.levels(b)) == ((1, 0), (5, 0))

        # Z: two kits, no location has them: refused having tried both, and it waits
        await shop.webhook("orders/create", z, order(z, item(1, kit, 2)))
        refused = await until_line(repo, "Z refused", z, unheld=2)
        assert (refused.tried, refused.oversold, refused.reserved) == (["wh-1", "wh-2"], True, 0)
        assert await redis.llen(waiting_key(kit)) == 1


async def test_a_routed_stores_kit_line_is_split_by_whole_kits_when_it_allows_splits(
    kafka_bootstrap: str, redis_url: str, redis: Redis, topics: list[str], tmp_path: Path
) -> None:
    """Issue #23 (routing): in a store allowing splits, a line of 3 kits with 2 kits' worth
    at wh-1 and 1 at wh-2 is reserved 2 at wh-1 and 1 at wh-2 (before: refused); the order's
    ``order.routed`` lists both placements; its cancel releases every kit where it is held."""
    run = uuid.uuid4().hex[:8].upper()
    a, b, kit = f"RSA-{run}", f"RSB-{run}", f"RSKIT-{run}"
    x = uuid.uuid4().int % 10**12
    repo = RedisOrders(redis, ttl_s=60)

    async with running(kafka_bootstrap, redis_url, tmp_path, routing=SPLIT_ROUTING) as rig:
        shop = rig.shop()
        await shop.stock(a, "set_on_hand", 4)  # wh-1: two kits
        await shop.stock(b, "set_on_hand", 5)
        await shop.stock(a, "set_on_hand", 2, "wh-2")  # wh-2: one kit
        await shop.stock(b, "set_on_hand", 2, "wh-2")
        await define_kit(rig, kit, {a: 2, b: 1})
        await rig.settled("stock loaded", b, (2, 0), "wh-2")

        await shop.webhook("orders/create", x, order(x, item(1, kit, 3)))
        routed = await until_state(repo, "X's order.routed published", x, lambda s: s.routed)
        assert routed.lines["1"].routed == {"wh-1": 2, "wh-2": 1}
        [notice] = [n for f in routed.facts.values() for n in f.notices
                    if n.type == "order.routed"]  # fmt: skip
        placed = [(ln["sku"], ln["location"], ln["quantity"]) for ln in notice.payload["lines"]]
        assert placed == [(kit, "wh-1", 2), (kit, "wh-2", 1)]
        await rig.settled("X holds A at wh-1", a, (4, 4), "wh-1")
        await rig.settled("X holds B at wh-2", b, (2, 1), "wh-2")

        await shop.webhook("orders/cancelled", x, order(x, item(1, kit, 3), updated=5,
                                                       cancelled=5))  # fmt: skip
        await rig.settled("X's A released at wh-1", a, (4, 0), "wh-1")
        await rig.settled("X's A released at wh-2", a, (2, 0), "wh-2")
        await rig.settled("X's B released at wh-1", b, (5, 0), "wh-1")
        await rig.settled("X's B released at wh-2", b, (2, 0), "wh-2")


async def define_kit(rig: Rig, kit: str, components: dict[str, int]) -> None:
    define = InventoryCommand(command="configure", idempotency_key=uuid.uuid4().hex, sku=kit,
                              location="wh-1", quantity=0,
                              config=SkuConfig(kit_components=components))  # fmt: skip
    event = InventoryCommandRequested(source="test", payload=define)
    await rig.producer.send_and_wait(
        INVENTORY_COMMANDS, event.model_dump_json().encode(), key=kit.encode()
    )
