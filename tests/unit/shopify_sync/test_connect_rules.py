"""Connecting a store, the pure rules: the scope check (write implies read, any-of needs),
reconciling webhook subscriptions (keep, update, create, remove, leave others' alone), the
callback URL, and the location mapping."""

from __future__ import annotations

import pytest

from shopify_sync.domain.connect import (
    REQUIRED_SCOPES,
    Location,
    MappingProblem,
    Subscription,
    callback_url,
    missing_scopes,
    needed_scopes,
    plan_locations,
    plan_subscriptions,
)
from stocksync_common.shopify_webhooks import SHOPIFY_TOPICS, subscribable

OURS = "https://sync.example/webhooks/shopify"
OLD = "https://old-tunnel.example/webhooks/shopify"
ALL_READS = ["write_inventory", "read_products", "read_locations", "read_orders",
             "read_fulfillments"]  # fmt: skip


def sub(n: int, topic: str, uri: str = OURS, fmt: str = "JSON") -> Subscription:
    return Subscription(f"gid://shopify/WebhookSubscription/{n}", topic, uri, fmt)


def test_every_required_scope_granted_leaves_nothing_missing() -> None:
    assert missing_scopes(ALL_READS, REQUIRED_SCOPES) == []


def test_a_missing_scope_is_named_with_its_reason() -> None:
    granted = [s for s in ALL_READS if s != "read_locations"]
    [missing] = missing_scopes(granted, REQUIRED_SCOPES)
    assert missing.any_of == ("read_locations",) and "locations" in missing.reason


def test_write_implies_read_but_not_the_other_way() -> None:
    needs = needed_scopes("child", propagate_catalog=True, fulfil_shipments=False)
    granted = [*ALL_READS, "write_products", "write_publications"]
    assert missing_scopes(granted, needs) == []
    [missing] = missing_scopes([*ALL_READS, "write_publications"], needs)  # not write_products
    assert missing.any_of == ("write_products",)
    inventory_read_only = ["read_inventory" if s == "write_inventory" else s for s in ALL_READS]
    assert [m.any_of for m in missing_scopes(inventory_read_only, REQUIRED_SCOPES)] == [
        ("write_inventory",)
    ]


def test_fulfilment_scope_is_any_of_three_and_only_with_shipments_on() -> None:
    on = needed_scopes("parent", propagate_catalog=True, fulfil_shipments=True)
    off = needed_scopes("parent", propagate_catalog=True, fulfil_shipments=False)
    reads = [*ALL_READS, "read_publications"]
    assert missing_scopes([*reads, "write_third_party_fulfillment_orders"], on) == []
    assert len(missing_scopes(reads, on)) == 1
    assert missing_scopes(reads, off) == []  # a parent never needs write_products


def test_from_nothing_every_consumed_topic_is_created() -> None:
    wanted = list(subscribable())
    plan = plan_subscriptions([], wanted, OURS)
    assert plan.create == wanted and plan.changes == len(wanted)
    assert not (plan.keep or plan.update or plan.delete)


def test_subscribable_topics_are_the_routed_ones_less_the_compliance_three() -> None:
    routed = {t.name for t in SHOPIFY_TOPICS}
    assert {t.name for t in subscribable().values()} == routed - {
        "customers/data_request", "customers/redact", "shop/redact"
    }  # fmt: skip
    assert subscribable()["INVENTORY_LEVELS_UPDATE"].name == "inventory_levels/update"


def test_right_ones_kept_wrong_callback_updated_duplicates_and_stale_removed() -> None:
    existing = [
        sub(1, "ORDERS_CREATE"),  # right: kept
        sub(2, "ORDERS_CREATE", OLD),  # a duplicate of ours: removed
        sub(3, "ORDERS_UPDATED", OLD),  # ours, old address: updated
        sub(4, "PRODUCTS_UPDATE", OURS, "XML"),  # ours, wrong format: updated
        sub(5, "CARTS_CREATE", OLD),  # ours, a topic no longer consumed: removed
        sub(6, "CUSTOMERS_CREATE", "https://crm.example/hooks"),  # someone else's: left
    ]
    plan = plan_subscriptions(existing, ["ORDERS_CREATE", "ORDERS_UPDATED", "PRODUCTS_UPDATE",
                                         "REFUNDS_CREATE"], OURS)  # fmt: skip
    assert [s.id[-1] for s in plan.keep] == ["1"]
    assert [s.id[-1] for s in plan.update] == ["3", "4"]
    assert sorted(s.id[-1] for s in plan.delete) == ["2", "5"]
    assert plan.create == ["REFUNDS_CREATE"]
    assert [s.id[-1] for s in plan.foreign] == ["6"]


def test_a_second_run_changes_nothing() -> None:
    wanted = list(subscribable())
    existing = [sub(i, topic) for i, topic in enumerate(wanted)]
    plan = plan_subscriptions(existing, wanted, OURS)
    assert plan.changes == 0 and len(plan.keep) == len(wanted)


@pytest.mark.parametrize(
    ("public", "callback"),
    [
        ("https://sync.example", OURS),
        ("https://sync.example/", OURS),
        ("https://edge.example/stocksync/", "https://edge.example/stocksync/webhooks/shopify"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/webhooks/shopify"),
    ],
)
def test_callback_url(public: str, callback: str) -> None:
    assert callback_url(public) == callback


@pytest.mark.parametrize(
    "bad", ["http://sync.example", "sync.example", "ftp://x.example", "https://x.example/?a=1"]
)
def test_callback_url_refuses_what_shopify_cannot_deliver_to(bad: str) -> None:
    with pytest.raises(ValueError, match="public URL"):
        callback_url(bad)


MAIN = Location("gid://shopify/Location/1", "Main warehouse")
POPUP = Location("gid://shopify/Location/2", "Pop-up")


def test_one_location_maps_to_the_internal_id_the_other_stores_use() -> None:
    assert plan_locations({}, [MAIN], {}, ["wh-1", "wh-1"]) == {"wh-1": MAIN.id}
    assert plan_locations({}, [MAIN], {}, []) == {"main-warehouse": MAIN.id}


def test_several_locations_need_an_explicit_mapping_naming_them() -> None:
    with pytest.raises(MappingProblem, match="--map") as info:
        plan_locations({}, [MAIN, POPUP], {}, ["wh-1"])
    assert "Pop-up" in str(info.value) and MAIN.id in str(info.value)
    explicit = {"wh-1": "Main warehouse", "wh-2": POPUP.id}
    assert plan_locations({}, [MAIN, POPUP], explicit, []) == {"wh-1": MAIN.id, "wh-2": POPUP.id}
    with pytest.raises(MappingProblem, match="Nowhere"):
        plan_locations({}, [MAIN], {"wh-1": "Nowhere"}, [])


def test_a_configured_mapping_is_checked_against_the_active_locations() -> None:
    assert plan_locations({"wh-1": MAIN.id}, [MAIN, POPUP], {}, []) == {"wh-1": MAIN.id}
    closed = Location(POPUP.id, POPUP.name, active=False)
    with pytest.raises(MappingProblem, match="wh-2"):
        plan_locations({"wh-1": MAIN.id, "wh-2": POPUP.id}, [MAIN, closed], {}, [])


def test_catalog_propagation_needs_the_publications_scopes() -> None:
    """Collection propagation reads which channels a collection is published on
    (``resourcePublications``: ``read_publications``) in the parent and the child, and
    publishes it in the child (``publishablePublish``/``publishableUnpublish``:
    ``write_publications``), as Shopify's Admin schema states for those fields."""
    child = needed_scopes("child", propagate_catalog=True, fulfil_shipments=False)
    parent = needed_scopes("parent", propagate_catalog=True, fulfil_shipments=False)
    granted = [*ALL_READS, "write_products"]
    assert [m.any_of for m in missing_scopes(granted, child)] == [("write_publications",)]
    assert [m.any_of for m in missing_scopes(ALL_READS, parent)] == [("read_publications",)]
    assert missing_scopes([*granted, "write_publications"], child) == []
    assert missing_scopes([*ALL_READS, "write_publications"], parent) == []  # write implies read
    for role in ("parent", "child"):  # without propagation neither is asked for
        needs = needed_scopes(role, propagate_catalog=False, fulfil_shipments=False)
        assert missing_scopes(ALL_READS, needs) == []
