"""``publishablePublish`` and ``publishableUnpublish`` of collections, and the store's
``publications``, as Shopify documents them: each input names a publication (a sales
channel) by ``publicationId``; an unknown one is a user error and nothing changes (all or
nothing). Publishing a product is not simulated (refused, saying so); ``channelId`` and
``publishDate`` (scheduled publishing) are not simulated either."""

from __future__ import annotations

from typing import Any

from stocksync_sim.shopify.catalog import check_fault, user_error
from stocksync_sim.shopify.channels import channels, publications_connection
from stocksync_sim.shopify.collections import collection_object, find_collection
from stocksync_sim.shopify.executor import Call, GqlObject, Resolve
from stocksync_sim.shopify.state import StoreState, gid


def _publish(store: StoreState, call: Call, kind: str, publish: bool) -> GqlObject:
    check_fault(store, "publishablePublish" if publish else "publishableUnpublish")
    c = find_collection(store, collection_id=call.args.get("id"))
    inputs: list[dict[str, Any]] = list(call.args.get("input") or [])
    errors: list[GqlObject] = []
    if c is None:
        errors.append(user_error("Only collections can be published in the simulator", ["id"]))
    known = channels(store)
    for i, item in enumerate(inputs):
        if item.get("publicationId") not in known:
            errors.append(user_error("Publication does not exist",
                                     ["input", str(i), "publicationId"]))  # fmt: skip
    if c is not None and not errors:
        for item in inputs:
            pid = str(item["publicationId"])
            if publish and pid not in c.published:
                c.published.append(pid)
            if not publish and pid in c.published:
                c.published.remove(pid)
        c.touch()
    shop = GqlObject("Shop", {"id": gid("Shop", store.shop_number), "myshopifyDomain": store.shop})
    publishable = collection_object(store, c) if c is not None and not errors else None
    return GqlObject(kind, {"publishable": publishable, "shop": shop, "userErrors": errors},
                     cost=0)  # fmt: skip


def query_fields(store: StoreState) -> dict[str, Any]:
    return {"publications": Resolve(lambda call: publications_connection(store, call.args))}


def mutation_fields(store: StoreState) -> dict[str, Any]:
    return {
        "publishablePublish": Resolve(
            lambda call: _publish(store, call, "PublishablePublishPayload", True)
        ),
        "publishableUnpublish": Resolve(
            lambda call: _publish(store, call, "PublishableUnpublishPayload", False)
        ),
    }
