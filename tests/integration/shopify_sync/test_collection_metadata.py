"""A collection's search engine listing (SEO title and description), its metafields in the
parent's catalog namespace, its sales channels (those the child has) and the product order
of a collection sorted by hand, propagated from the parent (ADR 0035, section 5) through
shopify-sync's catalog consumers on the real Kafka and Redis, against the Shopify simulator:
a following child gets the parent's and follows its changes, a child owning the field keeps
its own, and a child's edit of one the parent owns is put back on that child's
collections/update."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from integration.shopify_sync.conftest import Sync, SyncFactory
from integration.shopify_sync.test_collection_propagation import (
    PLANS,
    UPDATE,
    create,
    gql,
    members,
    parent_view,
    publish,
    publish_collection,
    seed,
)
from integration.shopify_sync.test_collection_reconcile import child_webhook

from shopify_sync.adapters.shopify import TransientError
from support.poll import await_for

pytestmark = pytest.mark.integration
ROLES = [
    {"role": "parent"},
    {
        "role": "child",
        "child_owned_fields": [
            "collection_seo",
            "collection_product_order",
            "collection_metafields",
            "collection_publications",
        ],
    },
    {"role": "child"},
]
SEO = """
query Seo($handle: String!) { collectionByHandle(handle: $handle) { id seo { title description } } }
"""


Read = Callable[[Sync, str, str], Awaitable[Any]]


async def wait_shows(s: Sync, read: Read, shop: str, handle: str, wanted: Any) -> None:
    """Poll until ``read`` shows ``wanted`` for the shop's collection."""

    async def shown() -> bool:
        return bool(await read(s, shop, handle) == wanted)

    await await_for(f"{shop} shows {wanted!r} ({read.__name__})", shown, 60)


async def seo_pair(s: Sync, shop: str, handle: str) -> tuple[str, str] | None:
    found = await seo(s, shop, handle)
    return None if found is None else (found["title"], found["description"])


async def seo(s: Sync, shop: str, handle: str) -> dict[str, Any] | None:
    found = (await gql(s, shop, SEO, {"handle": handle}))["collectionByHandle"]
    return None if found is None else dict(found["seo"], id=found["id"])


async def set_seo(s: Sync, shop: str, handle: str, title: str, description: str) -> None:
    found = await seo(s, shop, handle)
    assert found is not None
    data = {"id": found["id"], "seo": {"title": title, "description": description}}
    answer = (await gql(s, shop, UPDATE, {"input": data}))["collectionUpdate"]
    assert answer["userErrors"] == [], answer


async def test_the_parent_seo_listing_reaches_the_children_and_a_child_edit_is_put_back(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, owns, follows = s.shops
        listing = {"title": "Winter hats | Acme", "description": "Warm hats for cold days"}
        handle = await create(s, parent, {"title": "Hats", "seo": listing})
        await publish_collection(s, "collections/create", handle)
        for child in (owns, follows):  # a new collection is created whole
            await wait_shows(s, seo_pair, child, handle, (listing["title"], listing["description"]))

        await set_seo(s, owns, handle, "Our hats", "Hats, our way")  # owns: its own listing
        await set_seo(s, parent, handle, "Hats | Acme", "All our hats")
        await publish_collection(s, "collections/update", handle)
        await wait_shows(s, seo_pair, follows, handle, ("Hats | Acme", "All our hats"))
        kept = await seo(s, owns, handle)
        assert kept is not None and (kept["title"], kept["description"]) == (
            "Our hats", "Hats, our way",
        )  # fmt: skip

        # follows' merchant edits the listing the parent owns: its webhook puts it back
        await set_seo(s, follows, handle, "Cheap hats", "")
        await child_webhook(s, follows, handle)
        await wait_shows(s, seo_pair, follows, handle, ("Hats | Acme", "All our hats"))
        # and owns' own listing, on its webhook, stays
        r = await s.sim.get(f"/_sim/stores/{owns}/collections/{handle}/payload")
        await publish(s, owns, "collections/update", r.json())
        stores = {store.shop: store for store in s.container.stores.stores}
        collections = s.container.collections
        assert collections is not None
        body = r.json()
        assert await collections.on_webhook(stores[owns], "collections/update", body) in (
            "echo", "in-step",
        )  # fmt: skip
        kept = await seo(s, owns, handle)
        assert kept is not None and kept["title"] == "Our hats"


ORDER = """
query Order($handle: String!) {
  collectionByHandle(handle: $handle) { id products(first: 50) { nodes { id handle } } }
}
"""
REORDER = """
mutation Reorder($id: ID!, $moves: [MoveInput!]!) {
  collectionReorderProducts(id: $id, moves: $moves) { job { id done } userErrors { message } }
}
"""
JOB = "query J($id: ID!) { job(id: $id) { done } }"


async def order(s: Sync, shop: str, handle: str) -> list[str]:
    found = (await gql(s, shop, ORDER, {"handle": handle}))["collectionByHandle"]
    return [] if found is None else [p["handle"] for p in found["products"]["nodes"]]


async def move_first(s: Sync, shop: str, handle: str, product: str) -> None:
    """The merchant drags ``product`` to the top of the collection."""
    found = (await gql(s, shop, ORDER, {"handle": handle}))["collectionByHandle"]
    ids = {p["handle"]: p["id"] for p in found["products"]["nodes"]}
    moves = [{"id": ids[product], "newPosition": "0"}]
    answer = await gql(s, shop, REORDER, {"id": found["id"], "moves": moves})
    assert answer["collectionReorderProducts"]["userErrors"] == [], answer
    job = answer["collectionReorderProducts"]["job"]["id"]

    async def done() -> bool:  # Shopify reorders in the background: polled as the admin does
        return bool((await gql(s, shop, JOB, {"id": job}))["job"]["done"])

    await await_for("the reorder's job done", done, 30)


async def test_a_manual_product_order_follows_the_parent_and_is_put_back_on_a_child_edit(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, owns, follows = s.shops
        skus = ("MUG-C", "MUG-A", "MUG-B")
        ids = [await seed(s, parent, sku) for sku in skus]
        for child in (owns, follows):
            for sku in skus:
                await seed(s, child, sku)
        handle = await create(s, parent, {"title": "Mugs", "sortOrder": "MANUAL", "products": ids})
        assert await order(s, parent, handle) == ["mug-c", "mug-a", "mug-b"]
        await publish_collection(s, "collections/create", handle)
        for child in (owns, follows):  # created whole: members added, then put in order
            await wait_shows(s, order, child, handle, ["mug-c", "mug-a", "mug-b"])

        await move_first(s, owns, handle, "mug-b")  # owns keeps its own order
        await move_first(s, parent, handle, "mug-a")
        await publish_collection(s, "collections/update", handle)
        await wait_shows(s, order, follows, handle, ["mug-a", "mug-c", "mug-b"])
        assert await order(s, owns, handle) == ["mug-b", "mug-c", "mug-a"]

        # follows' merchant reorders: its webhook (which shows no order) puts it back
        await move_first(s, follows, handle, "mug-b")
        await child_webhook(s, follows, handle)
        await wait_shows(s, order, follows, handle, ["mug-a", "mug-c", "mug-b"])
        assert await members(s, follows, handle) == {"mug-a", "mug-b", "mug-c"}
        assert await order(s, owns, handle) == ["mug-b", "mug-c", "mug-a"]


METAFIELDS = """
query M($handle: String!) { collectionByHandle(handle: $handle) {
  id metafields(first: 20) { nodes { namespace key value } }
} }
"""
SET = """
mutation S($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) { userErrors { message } } }
"""
DROP = """
mutation D($m: [MetafieldIdentifierInput!]!) {
  metafieldsDelete(metafields: $m) { userErrors { message } }
}
"""


async def metafields(s: Sync, shop: str, handle: str) -> dict[str, str] | None:
    found = (await gql(s, shop, METAFIELDS, {"handle": handle}))["collectionByHandle"]
    if found is None:
        return None
    return {f"{m['namespace']}.{m['key']}": m["value"] for m in found["metafields"]["nodes"]}


async def set_metafields(s: Sync, shop: str, handle: str, values: dict[str, str]) -> None:
    found = (await gql(s, shop, METAFIELDS, {"handle": handle}))["collectionByHandle"]
    entries = [{"ownerId": found["id"], "namespace": name.split(".")[0],
                "key": name.split(".")[1], "type": "single_line_text_field", "value": value}
               for name, value in values.items()]  # fmt: skip
    assert (await gql(s, shop, SET, {"m": entries}))["metafieldsSet"]["userErrors"] == []


async def test_catalog_namespace_metafields_follow_the_parent_and_a_child_edit_is_put_back(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, owns, follows = s.shops
        handle = await create(s, parent, {"title": "Bags"})
        own = {"catalog.material": "leather", "catalog.care": "wipe", "custom.internal": "x"}
        await set_metafields(s, parent, handle, own)
        await publish_collection(s, "collections/create", handle)
        first = {"catalog.material": "leather", "catalog.care": "wipe"}  # not custom.*
        for child in (owns, follows):
            await wait_shows(s, metafields, child, handle, first)

        await set_metafields(s, owns, handle, {"catalog.material": "our own"})
        await set_metafields(s, parent, handle, {"catalog.material": "canvas"})
        parent_id = (await gql(s, parent, METAFIELDS, {"handle": handle}))["collectionByHandle"][
            "id"
        ]
        gone = [{"ownerId": parent_id, "namespace": "catalog", "key": "care"}]
        assert (await gql(s, parent, DROP, {"m": gone}))["metafieldsDelete"]["userErrors"] == []
        await publish_collection(s, "collections/update", handle)
        await wait_shows(s, metafields, follows, handle, {"catalog.material": "canvas"})
        assert await metafields(s, owns, handle) == {
            "catalog.material": "our own", "catalog.care": "wipe"}  # fmt: skip

        # follows' merchant edits one the parent owns: its webhook puts it back
        await set_metafields(s, follows, handle, {"catalog.material": "plastic"})
        await child_webhook(s, follows, handle)
        await wait_shows(s, metafields, follows, handle, {"catalog.material": "canvas"})


CHANNELS = "query C { publications(first: 10) { nodes { id catalog { title } } } }"
PUBLISHED = """
query P($handle: String!) { collectionByHandle(handle: $handle) {
  id resourcePublications(first: 10) { nodes { publication { catalog { title } } } }
} }
"""
PUBLISH = """
mutation P($id: ID!, $input: [PublicationInput!]!) {
  publishablePublish(id: $id, input: $input) { userErrors { message } }
}
"""
UNPUBLISH = """
mutation U($id: ID!, $input: [PublicationInput!]!) {
  publishableUnpublish(id: $id, input: $input) { userErrors { message } }
}
"""


async def published(s: Sync, shop: str, handle: str) -> set[str] | None:
    found = (await gql(s, shop, PUBLISHED, {"handle": handle}))["collectionByHandle"]
    if found is None:
        return None
    nodes = found["resourcePublications"]["nodes"]
    return {n["publication"]["catalog"]["title"] for n in nodes}


async def publish_on(s: Sync, shop: str, handle: str, titles: list[str], on: bool = True) -> None:
    nodes = (await gql(s, shop, CHANNELS, {}))["publications"]["nodes"]
    ids = {n["catalog"]["title"]: n["id"] for n in nodes}
    found = (await gql(s, shop, PUBLISHED, {"handle": handle}))["collectionByHandle"]
    data = {"id": found["id"], "input": [{"publicationId": ids[t]} for t in titles]}
    name = "publishablePublish" if on else "publishableUnpublish"
    answer = (await gql(s, shop, PUBLISH if on else UNPUBLISH, data))[name]
    assert answer["userErrors"] == [], answer


async def test_sales_channels_follow_the_parent_where_the_child_has_them(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, owns, follows = s.shops
        three = ["Online Store", "Point of Sale", "Facebook"]
        r = await s.sim.put(f"/_sim/stores/{parent}/publications", json=three)
        assert r.status_code == 200, r.text  # the children have the default two
        handle = await create(s, parent, {"title": "Scarves"})
        await publish_on(s, parent, handle, ["Online Store", "Facebook"])
        await publish_collection(s, "collections/create", handle)
        for child in (owns, follows):  # no Facebook in the children: skipped
            await wait_shows(s, published, child, handle, {"Online Store"})

        await publish_on(s, owns, handle, ["Online Store"], on=False)  # owns: its own
        await publish_on(s, parent, handle, ["Online Store"], on=False)
        await publish_on(s, parent, handle, ["Point of Sale"])
        await publish_collection(s, "collections/update", handle)
        await wait_shows(s, published, follows, handle, {"Point of Sale"})
        assert await published(s, owns, handle) == set()

        # follows' merchant publishes it on the online store: its webhook takes it back off
        await publish_on(s, follows, handle, ["Online Store"])
        await child_webhook(s, follows, handle)
        await wait_shows(s, published, follows, handle, {"Point of Sale"})


SCHEDULED = """
query S($handle: String!) { collectionByHandle(handle: $handle) {
  resourcePublications(first: 10, onlyPublished: false) {
    nodes { isPublished publishDate publication { catalog { title } } }
  }
} }
"""


def in_days(days: int) -> str:
    """A publish date ``days`` from now, to the second, as Shopify's DateTime."""
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def schedule(s: Sync, shop: str, handle: str) -> dict[str, str] | None:
    """The channels the collection is published or scheduled on: title -> its publish date
    when that is to come (to the second), "now" when it is published."""
    found = (await gql(s, shop, SCHEDULED, {"handle": handle}))["collectionByHandle"]
    if found is None:
        return None
    shown, now = {}, datetime.now(UTC)
    for node in found["resourcePublications"]["nodes"]:
        if node["isPublished"]:
            date = datetime.fromisoformat(node["publishDate"]).replace(microsecond=0)
            title = node["publication"]["catalog"]["title"]
            shown[title] = date.strftime("%Y-%m-%dT%H:%M:%SZ") if date > now else "now"
    return shown


async def schedule_on(s: Sync, shop: str, handle: str, title: str, date: str) -> None:
    """The merchant schedules the collection on a channel (``PublicationInput.publishDate``)."""
    nodes = (await gql(s, shop, CHANNELS, {}))["publications"]["nodes"]
    ids = {n["catalog"]["title"]: n["id"] for n in nodes}
    found = (await gql(s, shop, PUBLISHED, {"handle": handle}))["collectionByHandle"]
    data = {"id": found["id"], "input": [{"publicationId": ids[title], "publishDate": date}]}
    answer = (await gql(s, shop, PUBLISH, data))["publishablePublish"]
    assert answer["userErrors"] == [], answer


async def test_a_channel_scheduled_in_the_parent_is_scheduled_in_the_child_for_that_date(
    sync_stack: SyncFactory,
) -> None:
    """A future publish date (the online store's scheduled publishing) is copied, not
    published now; a child's merchant publishing it early is put back on its webhook."""
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, owns, follows = s.shops
        handle = await create(s, parent, {"title": "Gifts"})
        later = in_days(30)
        await publish_on(s, parent, handle, ["Point of Sale"])
        await schedule_on(s, parent, handle, "Online Store", later)
        await publish_collection(s, "collections/create", handle)
        wanted = {"Online Store": later, "Point of Sale": "now"}
        for child in (owns, follows):  # created whole: scheduled for the parent's date
            await wait_shows(s, schedule, child, handle, wanted)
        assert await published(s, follows, handle) == {"Point of Sale"}  # not yet online

        # follows' merchant publishes it online now: its webhook schedules it again
        await publish_on(s, follows, handle, ["Online Store"])
        assert await published(s, follows, handle) == {"Online Store", "Point of Sale"}
        await child_webhook(s, follows, handle)
        await wait_shows(s, schedule, follows, handle, wanted)

        # the parent moves the date: follows follows, owns keeps its channels as they are
        sooner = in_days(7)
        await schedule_on(s, parent, handle, "Online Store", sooner)
        await publish_collection(s, "collections/update", handle)
        await wait_shows(s, schedule, follows, handle, {"Online Store": sooner,
                                                        "Point of Sale": "now"})  # fmt: skip
        assert await schedule(s, owns, handle) == wanted


IMAGE = "query I($handle: String!) { collectionByHandle(handle: $handle) { id image { url } } }"


async def image_of(s: Sync, shop: str, handle: str) -> str:
    found = (await gql(s, shop, IMAGE, {"handle": handle}))["collectionByHandle"] or {}
    return str((found.get("image") or {}).get("url") or "")


async def test_a_child_image_edit_is_put_back_and_an_unchanged_image_is_not_rewritten(
    sync_stack: SyncFactory,
) -> None:
    """ADR 0035 section 7: the child's URL differs from the parent's (its own CDN copy), so
    the URLs both showed at our last write are recorded and compared."""
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, _, follows = s.shops
        image = {"src": "https://cdn.example.test/bags.png"}
        handle = await create(s, parent, {"title": "Totes", "image": image})
        await publish_collection(s, "collections/create", handle)

        async def copied() -> bool:
            return "/bags.png?" in await image_of(s, follows, handle)

        await await_for("the image copied to the child", copied, 60)
        first = await image_of(s, follows, handle)
        assert first != await image_of(s, parent, handle)  # each store's own CDN copy
        collections = s.container.collections
        assert collections is not None
        store = s.container.stores.by_shop(follows)
        assert store is not None

        async def webhook() -> str:
            r = await s.sim.get(f"/_sim/stores/{follows}/collections/{handle}/payload")
            return str(await collections.on_webhook(store, "collections/update", r.json()))

        assert await webhook() in ("echo", "in-step")  # unchanged: not written again
        assert await image_of(s, follows, handle) == first

        found = (await gql(s, follows, IMAGE, {"handle": handle}))["collectionByHandle"]
        other = {"id": found["id"], "image": {"src": "https://cdn.example.test/other.png"}}
        assert (await gql(s, follows, UPDATE, {"input": other}))["collectionUpdate"][
            "userErrors"
        ] == []
        assert await webhook() == "reasserted"  # the child's own image replaced
        back = await image_of(s, follows, handle)
        assert "/bags.png?" in back and back != first
        assert await webhook() in ("echo", "in-step")  # and left alone from then on
        assert await image_of(s, follows, handle) == back


TITLE = "query T($handle: String!) { collectionByHandle(handle: $handle) { title } }"


async def test_a_failure_after_the_metafields_rolls_them_back_with_the_fields(
    sync_stack: SyncFactory,
) -> None:
    """The new steps are journaled and undone as the older ones: publishing fails after
    the fields and metafields were written; the child shows its snapshot again."""
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, _, follows = s.shops
        handle = await create(s, parent, {"title": "Belts"})
        await set_metafields(s, parent, handle, {"catalog.width": "3"})
        collections, store, view = await parent_view(s, follows, handle)
        await collections.sync_child(store, view)
        assert await metafields(s, follows, handle) == {"catalog.width": "3"}

        parent_id = (await gql(s, parent, METAFIELDS, {"handle": handle}))["collectionByHandle"][
            "id"
        ]
        await gql(s, parent, UPDATE, {"input": {"id": parent_id, "title": "Belts v2"}})
        await set_metafields(s, parent, handle, {"catalog.width": "4"})
        await publish_on(s, parent, handle, ["Online Store"])
        fault = {"shop": follows, "fail_mutations": ["publishablePublish"],
                 "fail_mutation_times": 1}  # fmt: skip
        assert (await s.sim.post("/_sim/faults", json=fault)).status_code == 200
        _, _, view = await parent_view(s, follows, handle)
        with pytest.raises(TransientError):
            await collections.sync_child(store, view)
        assert await metafields(s, follows, handle) == {"catalog.width": "3"}
        assert await published(s, follows, handle) == set()
        titled = (await gql(s, follows, TITLE, {"handle": handle}))["collectionByHandle"]
        assert titled == {"title": "Belts"}  # the snapshot's, not "Belts v2"
        journal = await s.container.redis.hgetall(f"sync:catalog-journal:{{{follows}}}")
        assert journal == {}

        await s.sim.delete("/_sim/faults", params={"shop": follows})
        await collections.sync_child(store, view)
        assert await metafields(s, follows, handle) == {"catalog.width": "4"}
        assert await published(s, follows, handle) == {"Online Store"}
