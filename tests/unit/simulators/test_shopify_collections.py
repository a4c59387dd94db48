"""The simulator's collections as Shopify documents them: a custom collection holds products
added by hand; a smart one computes its members from its rules (any or all), so nobody adds
to it; user errors for bad input; collections/* webhooks for every change, membership ones
included; and a rule the simulator does not evaluate refused by name."""

from __future__ import annotations

import json
from typing import Any

from unit.simulators.shopify_harness import CHILD, CHILD_TOKEN, LOC, ShopifySim
from unit.simulators.test_shopify_catalog import topics_sent

CREATE = """
mutation Create($input: CollectionInput!) {
  collectionCreate(input: $input) {
    collection { id handle title sortOrder ruleSet { appliedDisjunctively } }
    userErrors { field message }
  }
}
"""
UPDATE = """
mutation Update($input: CollectionInput!) {
  collectionUpdate(input: $input) { collection { id title } userErrors { field message } }
}
"""
ADD = """
mutation Add($id: ID!, $ids: [ID!]!) {
  collectionAddProducts(id: $id, productIds: $ids) { collection { id } userErrors { message } }
}
"""
REMOVE = """
mutation Remove($id: ID!, $ids: [ID!]!) {
  collectionRemoveProducts(id: $id, productIds: $ids) { job { id done } userErrors { message } }
}
"""
JOB = "query J($id: ID!) { job(id: $id) { id done } }"
DELETE = """
mutation Delete($id: ID!) {
  collectionDelete(input: {id: $id}) { deletedCollectionId userErrors { message } }
}
"""
MEMBERS = """
query Members($handle: String!) {
  collectionByIdentifier(identifier: {handle: $handle}) {
    products(first: 10) { nodes { handle } }
    productsCount { count }
  }
}
"""
BY_HANDLE = "query P($q: String!) { products(first: 10, query: $q) { nodes { id handle } } }"


async def gql(shopify: ShopifySim, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    answer = await shopify.graphql(query, variables, token=CHILD_TOKEN)
    assert "errors" not in answer, answer
    data: dict[str, Any] = answer["data"]
    return data


async def seed(shopify: ShopifySim) -> dict[str, str]:
    """Three products: a summer tee at 20, a big tee at 60, a cheap mug at 5; handle -> id."""
    products = [
        {"sku": "TEE-SUN", "price": "20.00", "catalog": {"tags": ["Summer"], "vendor": "Acme",
                                                          "productType": "Shirt"}},
        {"sku": "TEE-BIG", "price": "60.00", "catalog": {"vendor": "Acme", "productType": "Shirt"}},
        {"sku": "MUG", "price": "5.00", "catalog": {"vendor": "Other", "productType": "Mug"}},
    ]  # fmt: skip
    for p in products:
        p["quantities"] = {LOC: 1}
    await shopify.seed(CHILD, products)
    found = await gql(shopify, BY_HANDLE, {"q": "handle:tee-sun OR handle:tee-big OR handle:mug"})
    return {n["handle"]: n["id"] for n in found["products"]["nodes"]}


async def members(shopify: ShopifySim, handle: str) -> set[str]:
    node = (await gql(shopify, MEMBERS, {"handle": handle}))["collectionByIdentifier"]
    names = {p["handle"] for p in node["products"]["nodes"]}
    assert node["productsCount"]["count"] == len(names)
    return names


async def test_custom_collection_membership_by_hand_and_its_webhooks(shopify: ShopifySim) -> None:
    ids = await seed(shopify)
    made = await gql(
        shopify, CREATE, {"input": {"title": "Summer Picks", "products": [ids["mug"]]}}
    )
    payload = made["collectionCreate"]
    assert payload["userErrors"] == []
    collection = payload["collection"]
    assert (collection["handle"], collection["ruleSet"]) == ("summer-picks", None)
    added = await gql(shopify, ADD, {"id": collection["id"], "ids": [ids["tee-sun"]]})
    assert added["collectionAddProducts"]["userErrors"] == []
    assert await members(shopify, "summer-picks") == {"mug", "tee-sun"}
    removed = (await gql(shopify, REMOVE, {"id": collection["id"], "ids": [ids["mug"]]}))[
        "collectionRemoveProducts"
    ]
    assert removed["userErrors"] == [] and removed["job"]["done"] is False
    job = removed["job"]["id"]
    assert await members(shopify, "summer-picks") == {"mug", "tee-sun"}  # in the background
    assert (await gql(shopify, JOB, {"id": job}))["job"] == {"id": job, "done": False}
    assert await members(shopify, "summer-picks") == {"mug", "tee-sun"}
    assert (await gql(shopify, JOB, {"id": job}))["job"] == {"id": job, "done": True}
    assert await members(shopify, "summer-picks") == {"tee-sun"}  # the second poll removed it
    gone = await gql(shopify, DELETE, {"id": collection["id"]})
    assert gone["collectionDelete"]["deletedCollectionId"] == collection["id"]
    topics = [t for t in await topics_sent(shopify, 4) if t.startswith("collections/")]
    assert topics == ["collections/create", "collections/update", "collections/update",
                      "collections/delete"]  # fmt: skip
    body = json.loads(shopify.receiver.requests[-2].content)
    assert set(body) >= {"id", "handle", "title", "updated_at", "body_html", "sort_order",
                         "admin_graphql_api_id"}  # fmt: skip


async def test_smart_collection_computes_members_from_rules(shopify: ShopifySim) -> None:
    await seed(shopify)
    rules = [
        {"column": "TAG", "relation": "EQUALS", "condition": "summer"},
        {"column": "VARIANT_PRICE", "relation": "GREATER_THAN", "condition": "50"},
    ]
    any_of = {"title": "Any", "ruleSet": {"appliedDisjunctively": True, "rules": rules}}
    all_of = {"title": "All", "ruleSet": {"appliedDisjunctively": False, "rules": rules}}
    text = {"title": "Acme shirts", "ruleSet": {"appliedDisjunctively": False, "rules": [
        {"column": "VENDOR", "relation": "EQUALS", "condition": "acme"},
        {"column": "TYPE", "relation": "CONTAINS", "condition": "shir"},
        {"column": "TITLE", "relation": "NOT_CONTAINS", "condition": "big"},
        {"column": "VARIANT_PRICE", "relation": "LESS_THAN", "condition": "30"},
    ]}}  # fmt: skip
    for spec in (any_of, all_of, text):
        made = await gql(shopify, CREATE, {"input": spec})
        assert made["collectionCreate"]["userErrors"] == []
    assert await members(shopify, "any") == {"tee-sun", "tee-big"}
    assert await members(shopify, "all") == set()
    assert await members(shopify, "acme-shirts") == {"tee-sun"}


async def test_bad_input_gets_user_errors(shopify: ShopifySim) -> None:
    ids = await seed(shopify)
    smart = {"title": "Smart", "ruleSet": {"appliedDisjunctively": False, "rules": [
        {"column": "TAG", "relation": "EQUALS", "condition": "summer"}]}}  # fmt: skip
    made = (await gql(shopify, CREATE, {"input": smart}))["collectionCreate"]["collection"]
    refused = await gql(shopify, ADD, {"id": made["id"], "ids": [ids["mug"]]})
    assert "smart collection" in refused["collectionAddProducts"]["userErrors"][0]["message"]
    blank = await gql(shopify, CREATE, {"input": {"title": " "}})
    assert blank["collectionCreate"]["userErrors"][0]["field"] == ["title"]
    bad_relation = {"title": "X", "ruleSet": {"appliedDisjunctively": False, "rules": [
        {"column": "TAG", "relation": "GREATER_THAN", "condition": "3"}]}}  # fmt: skip
    answer = (await gql(shopify, CREATE, {"input": bad_relation}))["collectionCreate"]
    assert answer["collection"] is None
    assert "not valid for column TAG" in answer["userErrors"][0]["message"]
    unsimulated = {"title": "Y", "ruleSet": {"appliedDisjunctively": False, "rules": [
        {"column": "VARIANT_WEIGHT", "relation": "GREATER_THAN", "condition": "3"}]}}  # fmt: skip
    answer = (await gql(shopify, CREATE, {"input": unsimulated}))["collectionCreate"]
    assert "VARIANT_WEIGHT is not simulated" in answer["userErrors"][0]["message"]
    custom = (await gql(shopify, CREATE, {"input": {"title": "Hand"}}))["collectionCreate"]
    rules = {"appliedDisjunctively": True, "rules": [
        {"column": "TAG", "relation": "EQUALS", "condition": "x"}]}  # fmt: skip
    to_smart = {"id": custom["collection"]["id"], "ruleSet": rules}
    converted = await gql(shopify, UPDATE, {"input": to_smart})
    assert converted["collectionUpdate"]["userErrors"][0]["field"] == ["ruleSet"]
    unknown = await gql(shopify, ADD, {"id": "gid://shopify/Collection/999999", "ids": []})
    assert unknown["collectionAddProducts"]["userErrors"][0]["message"] == (
        "Collection does not exist"
    )
    taken = (await gql(shopify, CREATE, {"input": {"title": "Hand"}}))["collectionCreate"]
    assert taken["collection"]["handle"] == "hand-1"  # handles stay unique


REORDER = """
mutation Reorder($id: ID!, $moves: [MoveInput!]!) {
  collectionReorderProducts(id: $id, moves: $moves) { job { id done } userErrors { message } }
}
"""
ORDERED = """
query Ordered($handle: String!) {
  collectionByIdentifier(identifier: {handle: $handle}) {
    products(first: 10) { nodes { handle } }
    seo { title description }
  }
}
"""


async def test_manual_order_moves_apply_in_turn_and_seo_is_kept(shopify: ShopifySim) -> None:
    """collectionReorderProducts as Shopify documents it: MANUAL only, each move's position
    zero-based when it applies, past the end meaning last; SEOInput stored and cleared."""
    ids = await seed(shopify)
    spec = {"title": "Mugs", "sortOrder": "MANUAL", "seo": {"title": "Mugs | Acme"},
            "products": [ids["mug"], ids["tee-sun"], ids["tee-big"]]}  # fmt: skip
    made = (await gql(shopify, CREATE, {"input": spec}))["collectionCreate"]["collection"]

    async def order() -> list[str]:
        node = (await gql(shopify, ORDERED, {"handle": "mugs"}))["collectionByIdentifier"]
        return [p["handle"] for p in node["products"]["nodes"]]

    assert await order() == ["mug", "tee-sun", "tee-big"]
    moves = [{"id": ids["tee-big"], "newPosition": "0"}, {"id": ids["mug"], "newPosition": "9"}]
    answer = (await gql(shopify, REORDER, {"id": made["id"], "moves": moves}))[
        "collectionReorderProducts"
    ]
    assert answer["userErrors"] == [] and answer["job"]["done"] is False
    job = answer["job"]["id"]
    assert await order() == ["mug", "tee-sun", "tee-big"]  # in the background: not yet
    assert (await gql(shopify, JOB, {"id": job}))["job"] == {"id": job, "done": False}
    assert await order() == ["mug", "tee-sun", "tee-big"]
    assert (await gql(shopify, JOB, {"id": job}))["job"] == {"id": job, "done": True}
    assert await order() == ["tee-big", "tee-sun", "mug"]  # the second poll finished it
    assert (await gql(shopify, JOB, {"id": "gid://shopify/Job/0"}))["job"] is None
    node = (await gql(shopify, ORDERED, {"handle": "mugs"}))["collectionByIdentifier"]
    assert node["seo"] == {"title": "Mugs | Acme", "description": None}
    cleared = {"id": made["id"], "sortOrder": "BEST_SELLING", "seo": {"title": ""}}
    assert (await gql(shopify, UPDATE, {"input": cleared}))["collectionUpdate"]["userErrors"] == []
    node = (await gql(shopify, ORDERED, {"handle": "mugs"}))["collectionByIdentifier"]
    assert node["seo"] == {"title": None, "description": None}
    refused = await gql(shopify, REORDER, {"id": made["id"], "moves": moves[:1]})
    errors = refused["collectionReorderProducts"]["userErrors"]
    assert refused["collectionReorderProducts"]["job"] is None
    assert errors == [{"message": "Can't reorder products unless collection is manually sorted"}]
    assert await order() == ["tee-big", "tee-sun", "mug"]  # nothing changed


CHANNELS = "query C { publications(first: 5) { nodes { id catalog { title } } } }"
PUBLISH = """
mutation P($id: ID!, $input: [PublicationInput!]!) {
  publishablePublish(id: $id, input: $input) { userErrors { field message } }
}
"""
PUBLISHED = """
query P($handle: String!) { collectionByIdentifier(identifier: {handle: $handle}) {
  resourcePublications(first: 5) { nodes { isPublished publication { catalog { title } } } }
} }
"""


async def test_collections_are_published_on_the_store_channels_only(shopify: ShopifySim) -> None:
    made = (await gql(shopify, CREATE, {"input": {"title": "Scarves"}}))["collectionCreate"]
    channels = (await gql(shopify, CHANNELS, {}))["publications"]["nodes"]
    assert [c["catalog"]["title"] for c in channels] == ["Online Store", "Point of Sale"]
    bad = [{"publicationId": channels[0]["id"]}, {"publicationId": "gid://shopify/Publication/0"}]
    refused = await gql(shopify, PUBLISH, {"id": made["collection"]["id"], "input": bad})
    assert refused["publishablePublish"]["userErrors"] == [
        {"field": ["input", "1", "publicationId"], "message": "Publication does not exist"}
    ]
    node = (await gql(shopify, PUBLISHED, {"handle": "scarves"}))["collectionByIdentifier"]
    assert node["resourcePublications"]["nodes"] == []  # all or nothing
    ok = await gql(shopify, PUBLISH, {"id": made["collection"]["id"], "input": bad[:1]})
    assert ok["publishablePublish"]["userErrors"] == []
    node = (await gql(shopify, PUBLISHED, {"handle": "scarves"}))["collectionByIdentifier"]
    assert node["resourcePublications"]["nodes"] == [
        {"isPublished": True, "publication": {"catalog": {"title": "Online Store"}}}
    ]


SCHEDULE = """
query S($handle: String!, $only: Boolean!) { collectionByIdentifier(identifier: {handle: $handle}) {
  resourcePublications(first: 5, onlyPublished: $only) {
    nodes { isPublished publishDate publication { catalog { title } } }
  }
} }
"""


async def test_a_publish_date_in_the_future_schedules_the_collection(shopify: ShopifySim) -> None:
    """``PublicationInput.publishDate``: a future date keeps the collection off the channel
    (listed only with ``onlyPublished: false``, its date shown); publishing again without a
    date publishes it now; a past date is kept as the date it was published."""
    made = (await gql(shopify, CREATE, {"input": {"title": "Gifts"}}))["collectionCreate"]
    channels = {c["catalog"]["title"]: c["id"]
                for c in (await gql(shopify, CHANNELS, {}))["publications"]["nodes"]}  # fmt: skip
    later, before = "2099-12-24T08:00:00Z", "2020-01-02T03:04:05Z"
    spec = [{"publicationId": channels["Online Store"], "publishDate": later},
            {"publicationId": channels["Point of Sale"], "publishDate": before}]  # fmt: skip
    answer = await gql(shopify, PUBLISH, {"id": made["collection"]["id"], "input": spec})
    assert answer["publishablePublish"]["userErrors"] == []

    async def shown(only: bool) -> dict[str, str]:
        node = (await gql(shopify, SCHEDULE, {"handle": "gifts", "only": only}))[
            "collectionByIdentifier"
        ]
        nodes = node["resourcePublications"]["nodes"]
        assert all(n["isPublished"] for n in nodes)  # published or scheduled, as documented
        return {n["publication"]["catalog"]["title"]: n["publishDate"] for n in nodes}

    assert await shown(True) == {"Point of Sale": "2020-01-02T03:04:05.000Z"}
    assert await shown(False) == {"Point of Sale": "2020-01-02T03:04:05.000Z",
                                  "Online Store": "2099-12-24T08:00:00.000Z"}  # fmt: skip
    bad = [{"publicationId": channels["Online Store"], "publishDate": "soon"}]
    refused = await gql(shopify, PUBLISH, {"id": made["collection"]["id"], "input": bad})
    assert refused["publishablePublish"]["userErrors"] == [
        {"field": ["input", "0", "publishDate"], "message": "Publish date is not a valid date-time"}
    ]
    now = [{"publicationId": channels[t]} for t in ("Online Store", "Point of Sale")]
    answer = await gql(shopify, PUBLISH, {"id": made["collection"]["id"], "input": now})
    assert answer["publishablePublish"]["userErrors"] == []
    published = await shown(True)  # the scheduled one published now; the other keeps its date
    assert set(published) == {"Online Store", "Point of Sale"}
    assert published["Point of Sale"] == "2020-01-02T03:04:05.000Z"
    assert "2020-01-02T03:04:05.000Z" < published["Online Store"] < later
