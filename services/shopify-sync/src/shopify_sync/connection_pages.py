"""Reading a connection whole, page by page by cursor (ADR 0013's sizing; ADR 0038): an
object read with a first page of each of its connections has the rest of each fetched with
a ``*Page`` query that selects the connection as ``page`` (under ``root``, or at the query's
root), each page sized to the store's bucket as learned (:func:`mapping.all_pages`), each
call its own turn at the store's catalog gate so inventory writes get through between pages.
Products (``product_read``), collections and a store's sales channels
(``collection_propagator``) page through the same loop."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shopify_sync.adapters.documents import page_cost
from shopify_sync.adapters.shopify import ShopifyClient
from shopify_sync.catalog_gate import CatalogGate
from shopify_sync.mapping import Page, all_pages
from stocksync_common.stores import Store

# Shopify's page limit; pages this large keep the number of calls down, and each is cut to
# fit the bucket anyway.
PAGE_MOST = 250


@dataclass(frozen=True)
class PageQuery:
    """One ``*Page`` query: ``root { page: <connection>(first:, after:, ...) }``."""

    document: str
    operation: str
    node_cost: int  # the points of one node (the node and its objects)
    root: str | None  # the object the connection hangs from; None: the query root
    takes: tuple[str, ...] = ("id",)  # variables besides first and after, from the context


async def rest_of(
    client: ShopifyClient,
    gate: CatalogGate,
    store: Store,
    query: PageQuery,
    context: Mapping[str, Any],
    after: str | None = None,
) -> list[Any]:
    """Every node of the connection after ``after`` (from its start when None)."""
    cost_of = page_cost(query.node_cost)

    async def fetch(size: int, cursor: str | None) -> Page:
        variables = {name: context[name] for name in query.takes}
        variables |= {"first": size, "after": cursor}
        async with gate.turn(store.shop):
            data = await client.execute(
                store, query.document, variables, operation=query.operation, cost=cost_of(size)
            )
        holder = (data.get(query.root) or {}) if query.root else data
        page: Page = holder.get("page") or {}
        return page

    return await all_pages(client, store, query.operation, cost_of, PAGE_MOST, fetch, after)


async def complete(
    client: ShopifyClient,
    gate: CatalogGate,
    store: Store,
    node: dict[str, Any],
    pages: Mapping[str, PageQuery],
    context: Mapping[str, Any],
) -> None:
    """Each connection of ``node`` named in ``pages`` made whole in place: its ``nodes``
    hold every node, its ``pageInfo`` says no more."""
    for name, query in pages.items():
        connection: Page = node.get(name) or {}
        info = connection.get("pageInfo") or {}
        if info.get("hasNextPage"):
            rest = await rest_of(client, gate, store, query, context, info.get("endCursor"))
            connection["nodes"] = [*(connection.get("nodes") or []), *rest]
        connection["pageInfo"] = {"hasNextPage": False, "endCursor": None}
        node[name] = connection
