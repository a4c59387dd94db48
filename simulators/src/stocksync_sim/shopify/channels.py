"""A store's sales channels as Shopify's Admin API shows them: publications, each with the
catalog whose title names the channel ("Online Store", "Point of Sale"...). A store starts
with those two; ``PUT /_sim/stores/{shop}/publications`` sets its list (titles). A
collection's ``resourcePublications`` are the channels it is published on, and with
``onlyPublished: false`` also those it is scheduled to be published on (a publish date in
the future), each with its ``publishDate``."""

from __future__ import annotations

from typing import Any

from stocksync_sim.delivery import rfc3339, utc_now
from stocksync_sim.shopify.executor import GqlObject
from stocksync_sim.shopify.objects import NODE, connection
from stocksync_sim.shopify.state import StoreState, gid

DEFAULT_CHANNELS = ("Online Store", "Point of Sale")


def channels(store: StoreState) -> dict[str, str]:
    """Publication gid -> its catalog's title, in the store's order."""
    if store.publications is None:
        set_channels(store, DEFAULT_CHANNELS)
    found: dict[str, str] = store.publications or {}
    return found


def set_channels(store: StoreState, titles: tuple[str, ...] | list[str]) -> None:
    store.publications = {gid("Publication", store.next_id()): title for title in titles}


def publication_object(store: StoreState, publication_id: str) -> GqlObject:
    title = channels(store)[publication_id]
    number = publication_id.rsplit("/", 1)[-1]
    catalog = GqlObject("AppCatalog", {"id": gid("AppCatalog", number), "title": title}, NODE)
    return GqlObject(
        "Publication", {"id": publication_id, "autoPublish": False, "catalog": catalog}, NODE
    )


def publications_connection(store: StoreState, args: dict[str, Any]) -> GqlObject:
    entries = list(enumerate(channels(store)))
    return connection("Publication", entries, lambda p: publication_object(store, p), args)


def resource_publications(
    store: StoreState, published: dict[str, str], args: dict[str, Any]
) -> GqlObject:
    """A publishable's ``resourcePublications``: the channels it is published on (by
    ``published``: publication gid -> publish date); ``onlyPublished`` (default true) false
    adds those it is scheduled on. ``isPublished`` is true for both, as Shopify documents
    it for ``ResourcePublication``; ``publishDate`` tells them apart."""
    known, now = channels(store), rfc3339(utc_now())
    only = args.get("onlyPublished", True) is not False
    entries = list(enumerate(p for p, date in published.items()
                             if p in known and not (only and date > now)))  # fmt: skip

    def build(publication_id: str) -> GqlObject:
        fields = {"isPublished": True, "publishDate": published[publication_id],
                  "publication": publication_object(store, publication_id)}  # fmt: skip
        return GqlObject("ResourcePublication", fields, cost=1)

    return connection("ResourcePublication", entries, build, args)
