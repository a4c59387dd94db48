"""A collection's metafields and sales channels beyond the first page (ADR 0038): every one
is read, set, published and deleted, in the parent, the child and the child's list of
channels, through shopify-sync's catalog consumers on the real Kafka and Redis, against the
Shopify simulator (which pages every connection by cursor, with no cap of its own)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from integration.shopify_sync.conftest import Sync, SyncFactory
from integration.shopify_sync.test_collection_metadata import (
    CHANNELS,
    DROP,
    PUBLISH,
    SET,
    UNPUBLISH,
    Read,
)
from integration.shopify_sync.test_collection_propagation import create, gql, publish_collection

pytestmark = pytest.mark.integration
ROLES = [{"role": "parent"}, {"role": "child"}, {"role": "child"}]
PLANS = ["plus", "plus", "plus"]  # the test's own reads of 40 to 100 nodes fit beside the sync
MANY = 60  # metafields: more than a page of 50
TITLES = ["Online Store", "Point of Sale", *(f"Channel {n:02d}" for n in range(3, 31))]  # 30
ALL_METAFIELDS = """
query M($handle: String!) { collectionByHandle(handle: $handle) {
  id metafields(first: 100, namespace: "catalog") {
    nodes { key value } pageInfo { hasNextPage endCursor }
  }
} }
"""
ALL_PUBLISHED = """
query P($handle: String!) { collectionByHandle(handle: $handle) {
  id resourcePublications(first: 40) { nodes { publication { catalog { title } } } }
} }
"""


async def wait_shows(s: Sync, read: Read, shop: str, handle: str, wanted: Any) -> None:
    """Poll until ``read`` shows ``wanted``, twice a second: each read of a long connection
    costs about 100 points, so a faster poll would take the bucket the sync needs."""
    deadline, last = time.monotonic() + 60, None
    while time.monotonic() < deadline:
        last = await read(s, shop, handle)
        if last == wanted:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{shop} shows {last!r}, not {wanted!r}")


async def catalog_metafields(s: Sync, shop: str, handle: str) -> dict[str, str] | None:
    found = (await gql(s, shop, ALL_METAFIELDS, {"handle": handle}))["collectionByHandle"]
    if found is None:
        return None
    return {m["key"]: m["value"] for m in found["metafields"]["nodes"]}


async def channels_of(s: Sync, shop: str, handle: str) -> set[str] | None:
    found = (await gql(s, shop, ALL_PUBLISHED, {"handle": handle}))["collectionByHandle"]
    if found is None:
        return None
    return {n["publication"]["catalog"]["title"] for n in found["resourcePublications"]["nodes"]}


async def set_many(s: Sync, shop: str, handle: str, values: dict[str, str]) -> None:
    found = (await gql(s, shop, ALL_METAFIELDS, {"handle": handle}))["collectionByHandle"]
    entries = [{"ownerId": found["id"], "namespace": "catalog", "key": key,
                "type": "single_line_text_field", "value": value}
               for key, value in values.items()]  # fmt: skip
    for start in range(0, len(entries), 25):  # metafieldsSet takes 25 a call
        answer = await gql(s, shop, SET, {"m": entries[start : start + 25]})
        assert answer["metafieldsSet"]["userErrors"] == [], answer


async def publish_titles(s: Sync, shop: str, handle: str, titles: list[str], on: bool) -> None:
    nodes = (await gql(s, shop, CHANNELS.replace("first: 10", "first: 40"), {}))["publications"][
        "nodes"
    ]
    ids = {n["catalog"]["title"]: n["id"] for n in nodes}
    found = (await gql(s, shop, ALL_PUBLISHED, {"handle": handle}))["collectionByHandle"]
    data: dict[str, Any] = {"id": found["id"], "input": [{"publicationId": ids[t]} for t in titles]}
    name = "publishablePublish" if on else "publishableUnpublish"
    answer = (await gql(s, shop, PUBLISH if on else UNPUBLISH, data))[name]
    assert answer["userErrors"] == [], answer


async def test_metafields_beyond_a_page_are_set_and_deleted(sync_stack: SyncFactory) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, *children = s.shops
        handle = await create(s, parent, {"title": "Lamps"})
        values = {f"k{n:02d}": f"v{n}" for n in range(MANY)}
        await set_many(s, parent, handle, values)
        await publish_collection(s, "collections/create", handle)
        for child in children:  # all 60, not the first 50
            await wait_shows(s, catalog_metafields, child, handle, values)

        # the parent drops five, one of them past the first page on both sides
        parent_id = (await gql(s, parent, ALL_METAFIELDS, {"handle": handle}))[
            "collectionByHandle"
        ]["id"]
        gone = ["k00", "k10", "k20", "k30", "k55"]
        dropped = [{"ownerId": parent_id, "namespace": "catalog", "key": k} for k in gone]
        assert (await gql(s, parent, DROP, {"m": dropped}))["metafieldsDelete"]["userErrors"] == []
        await publish_collection(s, "collections/update", handle)
        kept = {k: v for k, v in values.items() if k not in gone}
        for child in children:
            await wait_shows(s, catalog_metafields, child, handle, kept)


async def test_sales_channels_beyond_a_page_are_published_and_unpublished(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, *children = s.shops
        for shop in s.shops:  # 30 channels each: more than a page of 25
            r = await s.sim.put(f"/_sim/stores/{shop}/publications", json=TITLES)
            assert r.status_code == 200, r.text
        handle = await create(s, parent, {"title": "Rugs"})
        await publish_titles(s, parent, handle, TITLES, on=True)
        await publish_collection(s, "collections/create", handle)
        for child in children:  # on every one of the 30
            await wait_shows(s, channels_of, child, handle, set(TITLES))

        # the parent keeps the last two only: the child unpublishes from 28, past 25 too
        await publish_titles(s, parent, handle, TITLES[:-2], on=False)
        await publish_collection(s, "collections/update", handle)
        for child in children:
            await wait_shows(s, channels_of, child, handle, set(TITLES[-2:]))


async def channel_reads(s: Sync, shop: str) -> int:
    params = {"shop": shop, "operation_name": "SalesChannels"}
    return len((await s.sim.get("/_sim/requests", params=params)).json())


async def test_a_store_s_channels_are_read_once_and_again_for_a_channel_not_known(
    sync_stack: SyncFactory,
) -> None:
    """ADR 0038 section 2: each child's channel list is kept in memory (5 minutes by
    default); it is read again when the parent's collection is on a channel the list lacks."""
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, *children = s.shops
        handles = []
        for title in ("Caps", "Gloves"):
            handle = await create(s, parent, {"title": title})
            await publish_titles(s, parent, handle, ["Online Store"], on=True)
            await publish_collection(s, "collections/create", handle)
            for child in children:
                await wait_shows(s, channels_of, child, handle, {"Online Store"})
            handles.append(handle)
        for child in children:  # two collections synced, the channels read once
            assert await channel_reads(s, child) == 1

        # the parent and the first child open a new channel (the simulator gives each store's
        # channels new ids then, so both collections are on none of them any more)
        three = ["Online Store", "Point of Sale", "Pop-up"]
        for shop in (parent, children[0]):
            r = await s.sim.put(f"/_sim/stores/{shop}/publications", json=three)
            assert r.status_code == 200, r.text
        await publish_titles(s, parent, handles[0], ["Pop-up"], on=True)
        await publish_collection(s, "collections/update", handles[0])
        await wait_shows(s, channels_of, children[0], handles[0], {"Pop-up"})
        assert await channel_reads(s, children[0]) == 2  # read again: "Pop-up" was not known
