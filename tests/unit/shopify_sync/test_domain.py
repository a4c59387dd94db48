"""Pure rules: desired quantities, keys, user errors, the breaker, the bucket, the catalog."""

from __future__ import annotations

import json
from typing import Any

import pytest
from unit.shopify_sync.fakes import FakeClock

from shopify_sync.domain.catalog import (
    CatalogEntry,
    parse_bulk,
    parse_csv,
    to_csv,
    webhook_entries,
)
from shopify_sync.domain.drift import compare
from shopify_sync.domain.pacing import CostBucket, ThrottleStatus
from shopify_sync.domain.quantities import (
    Known,
    Pending,
    desired_from_levels,
    idempotency_key,
    pending_for_store,
    publish_quantity,
)
from shopify_sync.domain.user_errors import Action, classify
from stocksync_common.events import Levels, SkuLevels, StockChange
from stocksync_common.stores import Store

STORE = Store(
    shop="a.myshopify.com",
    access_token="t",  # type: ignore[arg-type]
    webhook_secret="s",  # type: ignore[arg-type]
    locations={"wh-1": "gid://shopify/Location/1"},
)


def change(version: int, available: int, location: str = "wh-1", **extra) -> StockChange:
    lv = Levels(on_hand=available, available=available)
    return StockChange(
        sku="A", location=location, command="reserve", idempotency_key=f"k{version}",
        version=version, before=lv, after=lv, sku_available_before=0,
        sku_available_after=available, **extra,
    )  # fmt: skip


def test_latest_version_wins_and_unmapped_locations_are_skipped() -> None:
    out = pending_for_store([change(3, 5), change(5, 1), change(4, 2), change(9, 7, "wh-9")], STORE)
    assert out == {("A", "wh-1"): Pending(5, 1, available=1)}


def test_a_pending_entry_carries_the_shops_sales_truth_has_applied_and_round_trips() -> None:
    seen = {"a.myshopify.com": 4, "b.myshopify.com": 0}
    out = pending_for_store([change(7, 3, shares={"a.myshopify.com": 2}, seen=seen)], STORE)
    pending = out[("A", "wh-1")]
    assert pending == Pending(7, 2, 3, True, (("a.myshopify.com", 4), ("b.myshopify.com", 0)))
    assert pending.own_seen("a.myshopify.com") == 4 and pending.own_seen("c") == 0
    assert Pending.decode(pending.encode()) == pending
    assert Pending.decode("5:9") == Pending(5, 9)  # entries recorded before the counters
    assert Pending.decode(Pending(5, 9, None, False, ()).encode()).seen == ()


def test_shares_replace_truth_while_allocation_is_active() -> None:
    assert publish_quantity(change(1, 9), STORE.shop) == 9
    shared = change(1, 9, shares={"a.myshopify.com": 6, "b.myshopify.com": 3})
    assert publish_quantity(shared, "a.myshopify.com") == 6
    assert publish_quantity(shared, "c.myshopify.com") == 0
    assert publish_quantity(change(1, -4), STORE.shop) == 0  # backorders never go negative
    levels = SkuLevels(sku="A", version=1, available=9, locations={"wh-1": Levels(available=9)})
    assert desired_from_levels(levels, STORE.shop, "wh-1") == Pending(1, 9, 9)
    assert desired_from_levels(levels, STORE.shop, "wh-2") is None


def test_a_kits_change_under_allocation_writes_each_store_its_kit_share() -> None:
    """A kit's availability as the adjuster publishes it (no stock of its own: before equals
    after) carries the kit's shares while a component is allocated (ADR 0040): each store is
    planned its share, as for any SKU, and reconciliation allows it no more."""
    lv = Levels(on_hand=3, available=3)
    kit = StockChange(
        sku="KIT", location="wh-1", command="reserve", idempotency_key="kit:KIT:wh-1:v7",
        version=7, before=lv, after=lv, sku_available_before=3, sku_available_after=3,
        shares={"a.myshopify.com": 1, "b.myshopify.com": 2}, seen={"a.myshopify.com": 1},
    )  # fmt: skip
    out = pending_for_store([kit], STORE)
    assert out[("KIT", "wh-1")] == Pending(7, 1, 3, True, (("a.myshopify.com", 1),))
    levels = SkuLevels(sku="KIT", version=7, available=3, locations={"wh-1": lv}, shares=kit.shares)
    assert desired_from_levels(levels, STORE.shop, "wh-1") == Pending(7, 1, 3, True, None)


def test_idempotency_key_depends_on_content_compare_value_version_and_salt() -> None:
    q = {"inventoryItemId": "i", "locationId": "l", "quantity": 5, "changeFromQuantity": 7}
    assert idempotency_key("s", [q]) == idempotency_key("s", [dict(q)])
    assert idempotency_key("s", [q]) != idempotency_key("s", [{**q, "quantity": 6}])
    assert idempotency_key("s", [q]) != idempotency_key("s", [{**q, "changeFromQuantity": 6}])
    assert idempotency_key("s", [q]) != idempotency_key("t", [q])
    assert idempotency_key("s", [q]) != idempotency_key("s", [q], salt=1)
    # the truth version behind the write: the same pair at a later version is a new write
    assert idempotency_key("s", [q], versions=[6]) == idempotency_key("s", [q], versions=[6])
    assert idempotency_key("s", [q], versions=[6]) != idempotency_key("s", [q], versions=[10])


def test_encodings_round_trip() -> None:
    assert Pending.decode(Pending(12, 3).encode()) == Pending(12, 3)
    assert Known.decode(Known(4, None).encode()) == Known(4, None)
    assert Known.decode(None) == Known()


def test_user_errors_map_to_actions_per_item_and_request() -> None:
    errors: list[dict[str, Any]] = [
        {"code": "CHANGE_FROM_QUANTITY_STALE", "field": ["input", "quantities", "1", "x"]},
        {"code": "INVALID_LOCATION", "field": ["input", "quantities", "2", "locationId"]},
        {"code": "INVALID_INVENTORY_ITEM", "field": ["input", "quantities", "0", "x"]},
        {"code": "SOMETHING_NEW", "field": ["input", "quantities", "3"]},
        {"code": "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED", "field": None},
    ]
    verdict = classify(errors, 4)
    assert verdict.indexes(Action.REFRESH) == [1]
    assert verdict.indexes(Action.REJECT) == [2, 3]
    assert verdict.indexes(Action.REMAP) == [0]
    assert verdict.request is not None and verdict.request.action == Action.NEW_KEY
    assert classify([{"code": "INVALID_REASON", "field": ["input", "reason"]}], 2).request


def test_bucket_learns_reserves_and_waits_by_the_restore_rate() -> None:
    clock = FakeClock()
    b = CostBucket(clock)
    assert b.delay_for(10) == 0  # unknown: one request may go and teach us
    b.reserve(10)
    assert b.delay_for(10) is None  # unknown, one in flight: wait for its answer
    b.settle(10, ThrottleStatus(maximum=2000, available=25.7, restore_rate=100))
    assert b.available() == 25
    assert b.delay_for(10) == 0
    b.reserve(10)
    assert b.delay_for(20) == pytest.approx((20 + 1 - 15) / 100)
    clock.now += 1
    assert b.available() == pytest.approx(115)


def test_bulk_jsonl_maps_variants_levels_and_reports_duplicates() -> None:
    def variant(n: int, sku: str) -> dict[str, object]:
        return {
            "id": f"gid://shopify/ProductVariant/{n}",
            "sku": sku,
            "product": {"id": f"gid://shopify/Product/{n}"},
            "inventoryItem": {"id": f"gid://shopify/InventoryItem/{n}"},
        }

    level = {
        "location": {"id": "gid://shopify/Location/1"},
        "quantities": [{"name": "available", "quantity": 4}],
        "__parentId": "gid://shopify/ProductVariant/1",
    }
    lines = [variant(1, "A"), level, variant(2, "A"), variant(3, "")]
    found = parse_bulk(json.dumps(line) for line in lines)
    assert found.entries["A"].item_id == "gid://shopify/InventoryItem/1"
    assert found.levels == {("A", "gid://shopify/Location/1"): 4}
    assert found.duplicates == {
        "A": ["gid://shopify/ProductVariant/1", "gid://shopify/ProductVariant/2"]
    }
    assert found.blank == ["gid://shopify/ProductVariant/3"]


def test_products_webhook_body_maps_variants() -> None:
    body = {
        "id": 5, "admin_graphql_api_id": "gid://shopify/Product/5",
        "variants": [
            {"id": 6, "admin_graphql_api_id": "gid://shopify/ProductVariant/6", "sku": "X",
             "inventory_item_id": 7},
            {"id": 8, "sku": None, "inventory_item_id": 9},
        ],
    }  # fmt: skip
    (entry,) = webhook_entries(body)
    assert (entry.sku, entry.variant_id, entry.item_id) == (
        "X", "gid://shopify/ProductVariant/6", "gid://shopify/InventoryItem/7",
    )  # fmt: skip


def test_csv_export_imports_back_and_bad_rows_are_reported() -> None:
    entry = CatalogEntry(
        "A", "gid://shopify/Product/1", "gid://shopify/ProductVariant/2",
        "gid://shopify/InventoryItem/3", ("gid://shopify/Location/1",),
    )  # fmt: skip
    text = to_csv([(STORE, entry)])
    parsed = parse_csv(text, [STORE])
    assert parsed.errors == []
    assert parsed.entries[STORE.shop]["A"].item_id == entry.item_id
    bad = (
        text
        + "nope.myshopify.com,B,x,y,z,,\n"
        + text.splitlines()[1].replace("InventoryItem/3", "InventoryItem/4")
        + "\n"
    )
    errors = parse_csv(bad, [STORE]).errors
    assert [e["error"] for e in errors] == ["unknown shop", "mismatched ids"]


def test_compare_counts_drift_missing_and_the_rate() -> None:
    truth = {
        sku: SkuLevels(sku=sku, version=3, available=n, locations={"wh-1": Levels(available=n)})
        for sku, n in {"A": 5, "B": 2, "C": 1, "D": 0}.items()
    }
    report = compare(
        STORE,
        truth,
        {"A", "B", "C", "Z"},
        {("A", "wh-1"): 5, ("B", "wh-1"): 7, ("C", "wh-1"): None},
    )
    assert report.compared == 2 and report.mismatched == 1 and report.mismatch_rate == 0.5
    assert report.missing == ["D"] and report.unstocked == 1 and report.unknown_to_truth == 1
    assert report.corrections() == {("B", "wh-1"): Pending(3, 2, available=2)}
