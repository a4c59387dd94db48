"""The simulator's storefront (in process, no network) and how the live benches judge a run:
sync latency matching, oversell, counter rates, the summary table."""

from __future__ import annotations

from pathlib import Path

import orjson
from unit.simulators.shopify_harness import CHILD, LOC, PARENT, ShopifySim, running_shopify

from bench import load, summary
from bench.live import rates, sample_metric


async def sell(sim: ShopifySim, sales: list[dict[str, object]]) -> dict[str, int]:
    r = await sim.client.post("/_sim/storefront/sell", json={"sales": sales})
    assert r.status_code == 200, r.text
    out: dict[str, int] = r.json()
    return out


async def test_storefront_refuses_when_its_own_count_is_zero() -> None:
    async with running_shopify() as sim:
        await sim.seed(PARENT, [{"sku": "HOT", "quantities": {LOC: 2}}])
        await sim.seed(CHILD, [{"sku": "HOT", "quantities": {"gid://shopify/Location/9": 0}}])
        one: dict[str, object] = {"shop": PARENT, "sku": "HOT"}
        assert await sell(sim, [one, one, one]) == {"sold": 2, "refused": 1}
        assert await sell(sim, [{"shop": CHILD, "sku": "HOT"}]) == {"sold": 0, "refused": 1}
        assert (await sim.inventory())["HOT"] == {LOC: 0}
        await sim.sim.require_deliverer().drain()
        assert len(sim.receiver.requests) == 2
        assert {r.headers["X-Shopify-Topic"] for r in sim.receiver.requests} == {"orders/create"}
        book = (await sim.client.get("/_sim/storefront/sales")).json()
        assert [s["status"] for s in book["sales"]] == ["delivered", "delivered"]
        assert all(s["ack_ms"] is not None for s in book["sales"])
        assert book["refused"] == {PARENT: 1, CHILD: 1}
        pending = (await sim.client.get("/_sim/storefront/pending")).json()
        assert pending == {"sales": 2, "pending": 0}
        assert (await sim.client.delete("/_sim/storefront/sales")).status_code == 204
        assert (await sim.client.get("/_sim/storefront/sales")).json()["sales"] == []


async def test_storefront_writes_list_the_skus_each_mutation_set() -> None:
    async with running_shopify() as sim:
        [seeded] = await sim.seed(PARENT, [{"sku": "A", "quantities": {LOC: 3}}])
        variables = {
            "input": {
                "name": "available",
                "reason": "correction",
                "quantities": [
                    {
                        "inventoryItemId": seeded["inventory_item_id"],
                        "locationId": LOC,
                        "quantity": 1,
                        "changeFromQuantity": 3,
                    },
                ],  # fmt: skip
            },
            "idempotencyKey": "k1",
        }
        doc = (
            "mutation S($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) {"
            " inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {"
            " userErrors { code field message } } }"
        )
        await sim.graphql(doc, variables)
        [write] = (await sim.client.get("/_sim/storefront/writes")).json()
        assert write["shop"] == PARENT and write["skus"] == ["A"] and write["ok"] is True


def test_sync_latency_matches_each_cold_sale_to_the_first_write_after_it() -> None:
    book = {
        "sales": [
            {"shop": "a", "sku": "C1", "quantity": 1, "sold_at": 100.0},
            {"shop": "b", "sku": "C2", "quantity": 1, "sold_at": 100.5},
            {"shop": "a", "sku": "H1", "quantity": 1, "sold_at": 100.0},
        ]
    }

    def at(seconds: float) -> str:
        from datetime import UTC, datetime

        moment = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
        return moment.replace("+00:00", "Z")

    writes = [
        {"shop": "b", "at": at(99.0), "ok": True, "skus": ["C1"]},  # before the sale: ignored
        {"shop": "b", "at": at(100.02), "ok": True, "skus": ["C1", "H1"]},
        {"shop": "b", "at": at(100.01), "ok": False, "skus": ["C1"]},  # rejected: ignored
        {"shop": "a", "at": at(100.54), "ok": True, "skus": ["C2"]},
    ]
    out = load.sync_latencies(book, writes, {"C1", "C2"})
    assert out["per_store"]["b"]["n"] == 1 and abs(out["per_store"]["b"]["p50"] - 20) < 1.5
    assert abs(out["per_store"]["a"]["max"] - 40) < 1.5
    assert out["missing"] == {}
    assert load.sync_latencies(book, writes[:1], {"C1", "C2"})["missing"] == {"b": 1, "a": 1}


def test_oversell_counts_units_sold_beyond_the_shared_stock() -> None:
    cat = load.catalog("T", skus=4, hot=2, hot_stock=2, cold_stock=5)
    sale = {"shop": "a", "quantity": 1, "sold_at": 0.0}
    book = {"sales": [sale | {"sku": "T-H00000"}] * 3 + [sale | {"sku": "T-H00001"}] * 2}
    out = load.oversell(book, cat)
    assert out == {"units_beyond_stock": 1, "skus_oversold": 1, "hot_units_sold": 5,
                   "hot_units_in_stock": 4}  # fmt: skip


def test_planned_sales_are_reproducible_and_cold_skus_sold_once() -> None:
    cat = load.catalog("T", skus=100, hot=5, hot_stock=2, cold_stock=5)
    first = load.plan_sales(cat, ["a", "b", "c"], 60, 0.5, seed=3)
    assert first == load.plan_sales(cat, ["a", "b", "c"], 60, 0.5, seed=3)
    cold = [s["sku"] for s in first if s["sku"] in set(cat.cold)]
    assert cold and len(cold) == len(set(cold))


def test_metrics_and_rates() -> None:
    text = (
        "# HELP stocksync_inventory_commands_total x\n"
        'stocksync_inventory_commands_total{command="adjust",outcome="applied"} 7.0\n'
        'stocksync_inventory_commands_total{command="reserve",outcome="applied"} 3.0\n'
        'stocksync_inventory_commands_total{command="reserve",outcome="rejected"} 2.0\n'
    )
    name = "stocksync_inventory_commands_total"
    assert sample_metric(text, name, {"outcome": "applied"}) == 10.0
    assert sample_metric(text, name) == 12.0
    out = rates([(0.0, 5.0), (1.0, 5.0), (2.0, 15.0), (3.0, 25.0), (4.0, 25.0)])
    assert out == {"total": 20.0, "per_s": 10.0, "seconds": 2.0}


def test_summary_uses_the_latest_full_run_and_states_gaps(tmp_path: Path) -> None:
    knee = {"knee_per_s": 3000.0, "failures": []}
    (tmp_path / "knee-20261101T000000Z.json").write_bytes(orjson.dumps(knee))
    smoke = {"knee_per_s": 99999.0, "failures": [], "smoke": True}
    (tmp_path / "knee-20261102T000000Z.json").write_bytes(orjson.dumps(smoke))
    text = summary.render(tmp_path)
    assert "3,000/s (knee)" in text and "99,999" not in text
    assert "Gaps: inventory commands applied" in text
    assert "not measured yet" in text  # the scenarios that never ran
