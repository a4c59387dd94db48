"""``metafieldsSet`` and ``metafieldsDelete`` on products and collections (each all or
nothing, like Shopify; ``metafieldsSet`` takes at most 25 metafields a call).

Deleting a metafield that does not exist is not an error: its place in
``deletedMetafields`` is null, as Shopify answers.
"""

from __future__ import annotations

from typing import Any

from stocksync_sim.shopify.catalog import check_fault, find_product, metafield_object, user_error
from stocksync_sim.shopify.collections import (
    SimCollection,
    collection_metafield_object,
    find_collection,
)
from stocksync_sim.shopify.executor import Call, GqlObject
from stocksync_sim.shopify.state import Product, StoreState

Owner = Product | SimCollection

SET_MOST = 25  # metafieldsSet takes at most 25 metafields a call (as Shopify)


def _owner(store: StoreState, owner_id: Any) -> Owner | None:
    return find_product(store, product_id=owner_id) or find_collection(
        store, collection_id=owner_id
    )


def _object(owner: Owner, key: tuple[str, str]) -> GqlObject:
    if isinstance(owner, SimCollection):
        return collection_metafield_object(owner, key)
    return metafield_object(owner, key, list(owner.metafields).index(key))


def _owners(
    store: StoreState, inputs: list[dict[str, Any]]
) -> tuple[list[Owner | None], list[GqlObject]]:
    owners = [_owner(store, m.get("ownerId")) for m in inputs]
    errors = [
        user_error("Owner does not exist", ["metafields", str(i), "ownerId"], "INVALID")
        for i, owner in enumerate(owners)
        if owner is None
    ]
    return owners, errors


def metafields_set(store: StoreState, call: Call) -> GqlObject:
    """``metafieldsSet(metafields:)``."""
    check_fault(store, "metafieldsSet")
    inputs: list[dict[str, Any]] = call.args.get("metafields") or []
    if len(inputs) > SET_MOST:
        error = user_error(
            f"Exceeded the maximum metafields input limit of {SET_MOST}.", ["metafields"],
            "LESS_THAN_OR_EQUAL_TO",
        )  # fmt: skip
        return GqlObject("MetafieldsSetPayload", {"metafields": [], "userErrors": [error]}, cost=0)
    owners, errors = _owners(store, inputs)
    if errors:
        return GqlObject("MetafieldsSetPayload", {"metafields": [], "userErrors": errors}, cost=0)
    out: list[GqlObject] = []
    for entry, owner in zip(inputs, owners, strict=True):
        assert owner is not None  # noqa: S101 - checked above
        key = (str(entry.get("namespace") or "$app"), str(entry["key"]))
        owner.metafields[key] = (str(entry.get("type") or "single_line_text_field"), entry["value"])
        owner.touch()
        out.append(_object(owner, key))
    return GqlObject("MetafieldsSetPayload", {"metafields": out, "userErrors": []}, cost=0)


def metafields_delete(store: StoreState, call: Call) -> GqlObject:
    """``metafieldsDelete(metafields: [{ownerId, namespace, key}])``."""
    check_fault(store, "metafieldsDelete")
    inputs: list[dict[str, Any]] = call.args.get("metafields") or []
    owners, errors = _owners(store, inputs)
    if errors:
        return GqlObject(
            "MetafieldsDeletePayload", {"deletedMetafields": [], "userErrors": errors}, cost=0
        )
    out: list[GqlObject | None] = []
    for entry, owner in zip(inputs, owners, strict=True):
        assert owner is not None  # noqa: S101 - checked above
        key = (str(entry["namespace"]), str(entry["key"]))
        if owner.metafields.pop(key, None) is None:
            out.append(None)
            continue
        owner.touch()
        fields = {"ownerId": entry["ownerId"], "namespace": key[0], "key": key[1]}
        out.append(GqlObject("MetafieldIdentifier", fields, cost=0))
    return GqlObject(
        "MetafieldsDeletePayload", {"deletedMetafields": out, "userErrors": []}, cost=0
    )
