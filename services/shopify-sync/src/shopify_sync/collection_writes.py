"""The Admin API side of collection propagation (ADR 0021; ADR 0035 section 5; ADR 0038):
reading a collection whole (every member, metafield of the namespace and channel it is on,
by page), a store's sales channels (kept in memory), and the write steps of a child's
collection: its fields, members, metafields, channels and product order (the removal's and
the reorder's jobs polled until done), each journaled before it is sent when a journal entry
is given (None: undoing). ``collection_propagator.CollectionPropagator`` decides which steps
each child needs, runs them in order and rolls them back; it mixes this class in."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from shopify_sync.adapters.collection_documents import (
    CHANNEL_NODE_COST,
    CHANNELS,
    COLLECTION_ADD_PRODUCTS,
    COLLECTION_CREATE,
    COLLECTION_FOR_SYNC,
    COLLECTION_METAFIELDS,
    COLLECTION_METAFIELDS_PAGE,
    COLLECTION_PAGE,
    COLLECTION_PRODUCTS_PAGE,
    COLLECTION_PUBLICATIONS_PAGE,
    COLLECTION_REORDER_PRODUCTS,
    COLLECTION_UPDATE,
    COLLECTIONS_PAGE,
    JOB_STATUS,
    JOB_STATUS_COST,
    PRODUCT_NODE_COST,
    PRODUCTS_BY_HANDLE,
    PUBLISHABLE_PUBLISH,
    PUBLISHABLE_UNPUBLISH,
    PUBLISHED_NODE_COST,
    SALES_CHANNELS,
)
from shopify_sync.adapters.documents import (
    METAFIELD_NODE_COST,
    METAFIELDS_DELETE,
    METAFIELDS_SET,
    MUTATION_COST,
)
from shopify_sync.adapters.shopify import ShopifyClient, TransientError
from shopify_sync.catalog_gate import CatalogGate
from shopify_sync.connection_pages import PageQuery, complete, rest_of
from shopify_sync.domain.collections import (
    JOURNAL_PREFIX,
    MANUAL,
    CollectionView,
    collection_input,
    from_graphql,
    handle_query,
    metafield_changes,
    publication_changes,
    reorder_moves,
)
from shopify_sync.ports import PropagationState
from shopify_sync.propagator import PropagationFailed
from stocksync_common.stores import Store

PRODUCTS_MOST = 250  # collectionAddProducts / collectionRemoveProducts take 250 a call
# a page of id and handle, a page of metafields, the collection's objects
READ_COST = 2 + COLLECTION_PAGE * 2 + 2 + COLLECTION_METAFIELDS + 2 + CHANNELS * 3 + 5
METAFIELDS_SET_MOST = 25  # metafieldsSet takes at most 25 metafields a call
# A collection's connections past their first page (ADR 0038): every member, every
# metafield of the namespace, every channel it is published on.
PAGES = {
    "products": PageQuery(COLLECTION_PRODUCTS_PAGE, "CollectionProductsPage",
                          PRODUCT_NODE_COST, "collection"),
    "metafields": PageQuery(COLLECTION_METAFIELDS_PAGE, "CollectionMetafieldsPage",
                            METAFIELD_NODE_COST, "collection", ("id", "namespace")),
    "resourcePublications": PageQuery(COLLECTION_PUBLICATIONS_PAGE,
                                      "CollectionPublicationsPage", PUBLISHED_NODE_COST,
                                      "collection"),
}  # fmt: skip
CHANNELS_PAGES = PageQuery(SALES_CHANNELS, "SalesChannels", CHANNEL_NODE_COST, None, ())
JOB_POLL_S = (0.05, 0.1, 0.2, 0.5, 1.0)  # between polls of a job: the first ones soon


class JobNotDone(TransientError):
    """An asynchronous mutation's job not done within the deadline: the sync is rolled
    back and the event retried (ADR 0038)."""


class CollectionWrites:
    """The calls of collection propagation; the propagator provides the attributes."""

    client: ShopifyClient
    gate: CatalogGate
    state: PropagationState
    channels_ttl_s: float
    job_timeout_s: float
    _channels: dict[str, tuple[float, dict[str, str]]]

    @property
    def namespace(self) -> str:
        """The metafield namespace that propagates (the propagator's parent's)."""
        raise NotImplementedError

    async def read(self, store: Store, identifier: dict[str, str]) -> CollectionView | None:
        """The collection with every member, metafield of the namespace and channel it is
        published on (paged); None when the store has none such."""
        variables = {"identifier": identifier, "products": COLLECTION_PAGE,
                     "metafields": COLLECTION_METAFIELDS, "namespace": self.namespace,
                     "channels": CHANNELS}  # fmt: skip
        data = await self._call(store, COLLECTION_FOR_SYNC, variables, "CollectionForSync")
        node = data.get("collectionByIdentifier")
        if not isinstance(node, dict):
            return None
        context = {"id": str(node["id"]), "namespace": self.namespace}
        await complete(self.client, self.gate, store, node, PAGES, context)
        # a channel's publish date after this read's time: scheduled (ADR 0038's amendment)
        return from_graphql(node, node["products"]["nodes"], datetime.now(UTC))

    async def _metafields_to(
        self,
        child: Store,
        entry: dict[str, Any] | None,
        wanted: CollectionView,
        shown: CollectionView,
        target: str,
    ) -> None:
        """The child's collection given ``wanted``'s metafields in the namespace: those
        missing or different set, those ``wanted`` lacks deleted. ``entry``: journal the
        steps (None: undoing)."""
        to_set, to_delete = metafield_changes(wanted, shown, target)
        if to_set and entry is not None:
            await self._step(child, entry, "metafields_set")
        for start in range(0, len(to_set), METAFIELDS_SET_MOST):
            part = to_set[start : start + METAFIELDS_SET_MOST]
            await self._write(child, METAFIELDS_SET, {"metafields": part}, "metafieldsSet")
        if to_delete and entry is not None:
            await self._step(child, entry, "metafields_delete")
        if to_delete:
            await self._write(
                child, METAFIELDS_DELETE, {"metafields": to_delete}, "metafieldsDelete"
            )

    async def channels(self, store: Store, titles: Iterable[str] = ()) -> dict[str, str]:
        """The store's sales channels, every one: title -> publication id. Kept in memory
        ``channels_ttl_s`` (a store's channels rarely change, and reading them costs about
        77 points); read again when older, or when one of ``titles`` is not among them (a
        channel opened since: a parent's channel the child lacks is read for each time)."""
        kept = self._channels.get(store.shop)
        now = time.monotonic()
        if kept and now - kept[0] < self.channels_ttl_s and set(titles) <= kept[1].keys():
            return kept[1]
        nodes = await rest_of(self.client, self.gate, store, CHANNELS_PAGES, {})
        found = {str((n.get("catalog") or {}).get("title") or ""): str(n["id"]) for n in nodes}
        self._channels[store.shop] = (now, found)
        return found

    async def _publish_as(
        self,
        child: Store,
        entry: dict[str, Any] | None,
        wanted: CollectionView,
        shown: CollectionView,
        target: str,
    ) -> None:
        """The child's collection published on the channels ``wanted`` is on, those the
        child has (matched by title), scheduled for ``wanted``'s date where that is to come,
        and unpublished from the others it has.
        ``entry``: journal the step (None: undoing)."""
        titles = (*wanted.publications, *shown.publications)
        publish, unpublish = publication_changes(wanted, shown, await self.channels(child, titles))
        if (publish or unpublish) and entry is not None:
            await self._step(child, entry, "publications")
        for document, name, inputs in (
            (PUBLISHABLE_PUBLISH, "publishablePublish", publish),
            (PUBLISHABLE_UNPUBLISH, "publishableUnpublish",
             [{"publicationId": p} for p in unpublish]),
        ):  # fmt: skip
            if inputs:
                variables = {"id": target, "input": inputs}
                try:
                    await self._write(child, document, variables, name)
                except PropagationFailed:
                    self._channels.pop(child.shop, None)  # a channel gone: read them again
                    raise

    async def _reorder(
        self, child: Store, entry: dict[str, Any] | None, order: Sequence[str], target: str
    ) -> None:
        """The child's collection (sorted by hand) put in ``order`` (product handles) with
        ``collectionReorderProducts``, only the products that move; read again first, as
        the membership steps just changed it. ``entry``: journal the step (None: undoing)."""
        now = await self.read(child, {"id": target})
        if now is None or now.sort_order != MANUAL:
            return  # the child keeps another sort order (its own field)
        moves = reorder_moves(order, now.order)
        if not moves:
            return
        if entry is not None:
            await self._step(child, entry, "products_reorder")
        for start in range(0, len(moves), PRODUCTS_MOST):
            part = [
                {"id": now.product_ids[handle], "newPosition": str(position)}
                for handle, position in moves[start : start + PRODUCTS_MOST]
            ]
            name = "collectionReorderProducts"
            data = await self._write(
                child, COLLECTION_REORDER_PRODUCTS, {"id": target, "moves": part}, name
            )
            await self._job_of(child, data, name)

    async def _job_done(self, store: Store, job_id: str) -> None:
        """Poll the job until Shopify says it is done (its change visible, so the next
        step and the next comparison read it); :class:`JobNotDone` after ``job_timeout_s``."""
        deadline = time.monotonic() + self.job_timeout_s
        for attempt in range(1_000_000):
            data = await self._call(store, JOB_STATUS, {"id": job_id}, "JobStatus",
                                    cost=JOB_STATUS_COST)  # fmt: skip
            if (data.get("job") or {}).get("done"):
                return
            pause = JOB_POLL_S[min(attempt, len(JOB_POLL_S) - 1)]
            if time.monotonic() + pause > deadline:
                break
            await asyncio.sleep(pause)  # Shopify's job runs in the background
        raise JobNotDone(f"{store.shop}: job {job_id} not done after {self.job_timeout_s} s")

    async def find_products(self, store: Store, handles: Sequence[str]) -> dict[str, str]:
        """The store's products with these handles (handle -> gid)."""
        found: dict[str, str] = {}
        for start in range(0, len(handles), COLLECTION_PAGE):
            part = handles[start : start + COLLECTION_PAGE]
            variables = {"first": len(part), "query": handle_query(part)}
            data = await self._call(store, PRODUCTS_BY_HANDLE, variables, "ProductsByHandle")
            for node in (data.get("products") or {}).get("nodes") or []:
                if node.get("handle") in part:
                    found[str(node["handle"])] = str(node["id"])
        return found

    async def listing(self, store: Store) -> dict[str, str]:
        """Every collection of the store: gid -> handle."""
        found: dict[str, str] = {}
        after: str | None = None
        while True:
            variables = {"first": COLLECTION_PAGE, "after": after}
            data = await self._call(store, COLLECTIONS_PAGE, variables, "CollectionsPage")
            page = data.get("collections") or {}
            found |= {str(n["id"]): str(n["handle"]) for n in page.get("nodes") or []}
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return found
            after = info.get("endCursor")

    async def _set(
        self, child: Store, view: CollectionView, fields: set[str], collection_id: str | None
    ) -> tuple[str, str]:
        """The collection's id and its image's URL, as the child answered."""
        document, name = (
            (COLLECTION_UPDATE, "collectionUpdate")
            if collection_id
            else (COLLECTION_CREATE, "collectionCreate")
        )
        variables = {"input": collection_input(view, fields, collection_id)}
        data = await self._write(child, document, variables, name)
        payload = data.get(name) or {}
        if not payload.get("collection"):
            raise PropagationFailed(f"{child.shop}: {name} answered no collection")
        written = payload["collection"]
        return str(written["id"]), str((written.get("image") or {}).get("url") or "")

    async def _products(
        self, child: Store, document: str, collection_id: str, ids: Sequence[str]
    ) -> None:
        """Products added to or removed from the child's custom collection, 250 a call. A
        removal answers a job (Shopify removes in the background): polled until done, so
        the next step, the rollback and the next comparison read the child without them."""
        name = (
            "collectionAddProducts"
            if document is COLLECTION_ADD_PRODUCTS
            else ("collectionRemoveProducts")
        )
        for start in range(0, len(ids), PRODUCTS_MOST):
            part = list(ids[start : start + PRODUCTS_MOST])
            data = await self._write(
                child, document, {"id": collection_id, "productIds": part}, name
            )
            await self._job_of(child, data, name)

    async def _job_of(self, store: Store, data: dict[str, Any], name: str) -> None:
        """The job a mutation answered polled until done (none, or done already: nothing)."""
        job = (data.get(name) or {}).get("job") or {}
        if job.get("id") and not job.get("done"):
            await self._job_done(store, str(job["id"]))

    async def _write(
        self, store: Store, document: str, variables: dict[str, Any], name: str
    ) -> dict[str, Any]:
        """One mutation; its user errors raised (the caller's rollback and the consumer's
        retry and DLQ apply)."""
        operation = name[0].upper() + name[1:] + "Sync"
        async with self.gate.turn(store.shop):
            data = await self.client.execute(
                store, document, variables, operation=operation, cost=MUTATION_COST
            )
        errors = (data.get(name) or {}).get("userErrors")
        if errors:
            raise PropagationFailed(f"{store.shop}: {name} refused: {errors}")
        return data

    async def _call(
        self,
        store: Store,
        document: str,
        variables: dict[str, Any],
        operation: str,
        cost: float = READ_COST,
    ) -> dict[str, Any]:
        async with self.gate.turn(store.shop):
            return await self.client.execute(
                store, document, variables, operation=operation, cost=cost
            )

    async def _step(self, child: Store, entry: dict[str, Any], step: str) -> None:
        """Journal a step before it is sent (it may apply even when its answer is lost)."""
        entry["steps"].append(step)
        await self.state.journal_put(child.shop, JOURNAL_PREFIX + entry["handle"], entry)
