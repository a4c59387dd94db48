"""``publishablePublish`` and ``publishableUnpublish`` of collections, and the store's
``publications``, as Shopify documents them: each input names a publication (a sales
channel) by ``publicationId``; an unknown one is a user error and nothing changes (all or
nothing). ``publishDate`` schedules: a date in the future keeps the collection off that
channel until then (``resourcePublications`` lists it only with ``onlyPublished: false``);
a date in the past publishes it with that date; none publishes it now (one already
published keeps its date; one scheduled is published now). A date that is not a date-time
is refused, here as a user error (Shopify's ``DateTime`` scalar refuses it before the
mutation runs). Shopify supports a future date
on online store channels only; how it answers one for another channel is not documented, so
the simulator takes it on any channel. Publishing a product is not simulated (refused,
saying so); nor is ``channelId``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from stocksync_sim.delivery import rfc3339, utc_now
from stocksync_sim.shopify.catalog import check_fault, user_error
from stocksync_sim.shopify.channels import channels, publications_connection
from stocksync_sim.shopify.collections import collection_object, find_collection
from stocksync_sim.shopify.executor import Call, GqlObject, Resolve
from stocksync_sim.shopify.state import StoreState, gid


def _publish_date(raw: Any) -> str | None:
    """``publishDate`` as RFC 3339 UTC; None when absent or not a date-time."""
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError:
        return None
    return rfc3339(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _problems(store: StoreState, inputs: list[dict[str, Any]], publish: bool) -> list[GqlObject]:
    errors: list[GqlObject] = []
    known = channels(store)
    for i, item in enumerate(inputs):
        if item.get("publicationId") not in known:
            errors.append(user_error("Publication does not exist",
                                     ["input", str(i), "publicationId"]))  # fmt: skip
        if publish and item.get("publishDate") and _publish_date(item["publishDate"]) is None:
            errors.append(user_error("Publish date is not a valid date-time",
                                     ["input", str(i), "publishDate"]))  # fmt: skip
    return errors


def _publish(store: StoreState, call: Call, kind: str, publish: bool) -> GqlObject:
    check_fault(store, "publishablePublish" if publish else "publishableUnpublish")
    c = find_collection(store, collection_id=call.args.get("id"))
    inputs: list[dict[str, Any]] = list(call.args.get("input") or [])
    errors: list[GqlObject] = []
    if c is None:
        errors.append(user_error("Only collections can be published in the simulator", ["id"]))
    errors += _problems(store, inputs, publish)
    if c is not None and not errors:
        now = rfc3339(utc_now())
        for item in inputs:
            pid = str(item["publicationId"])
            if not publish:
                c.published.pop(pid, None)
                continue
            date = _publish_date(item["publishDate"]) if item.get("publishDate") else None
            held = c.published.get(pid)
            c.published[pid] = date or (held if held is not None and held <= now else now)
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
