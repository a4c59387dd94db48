"""Parent-to-child collection propagation (ADR 0021), built on product propagation's
mechanism (ADR 0011): the same parent precedence and ``child_owned_fields``, the same echo
fingerprint, stale check and step journal with compensating rollback, in the same Redis
hashes (collection entries keyed ``collection:<handle>``).

A parent's collections/* webhook: read the collection (fields, rules, every member's handle)
and sync every child: ``collectionCreate`` or ``collectionUpdate`` with the fields the parent
owns there (a smart collection's rules among them: the child's Shopify then computes its
members itself), then for a custom collection ``collectionAddProducts`` of the members the
child has and lacks in the collection, ``collectionRemoveProducts`` of those the parent no
longer lists. A member the child does not have yet is pending: remembered per child and
product, and added by :meth:`CollectionPropagator.product_arrived` as soon as product
propagation put the product in the child. Each step is journaled before it is sent; a
failure undoes what may have been done (the created collection deleted; the snapshot's
fields written back, the added products removed, the removed ones added back).

Since ADR 0035 section 5 the same sync also carries the SEO listing (with the fields), the
metafields of the parent's catalog namespace (``metafieldsSet``/``metafieldsDelete``), the
sales channels the child has (``publishablePublish``/``publishableUnpublish``, matched by
title) and a hand-sorted custom collection's product order (``collectionReorderProducts``),
each journaled and undone like the steps above; section 7 records the image URLs of each
write so a child's image edit is put back and an unchanged image never rewritten.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shopify_sync.adapters.collection_documents import (
    CHANNEL_NODE_COST,
    CHANNELS,
    COLLECTION_ADD_PRODUCTS,
    COLLECTION_CREATE,
    COLLECTION_DELETE,
    COLLECTION_FOR_SYNC,
    COLLECTION_METAFIELDS,
    COLLECTION_METAFIELDS_PAGE,
    COLLECTION_PAGE,
    COLLECTION_PRODUCTS_PAGE,
    COLLECTION_PUBLICATIONS_PAGE,
    COLLECTION_REMOVE_PRODUCTS,
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
from shopify_sync.domain.catalog import gid
from shopify_sync.domain.collections import (
    COLLECTION_FIELDS,
    IMAGE_PREFIX,
    JOURNAL_PREFIX,
    MANUAL,
    CollectionView,
    collection_input,
    drifted,
    fingerprint,
    from_graphql,
    from_webhook,
    handle_query,
    image_record,
    metafield_changes,
    parent_owned,
    plan_membership,
    publication_changes,
    reorder_moves,
)
from shopify_sync.domain.propagation import older
from shopify_sync.ports import PendingMemberships, PropagationState
from shopify_sync.propagator import ParentAndChildren, PropagationFailed, run_all
from stocksync_common.events import new_id
from stocksync_common.stores import Store

log = logging.getLogger(__name__)
PRODUCTS_MOST = 250  # collectionAddProducts / collectionRemoveProducts take 250 a call
# a page of id and handle, a page of metafields, the collection's objects
READ_COST = 2 + COLLECTION_PAGE * 2 + 2 + COLLECTION_METAFIELDS + 2 + CHANNELS * 3 + 5
METAFIELDS_SET_MOST = 25  # metafieldsSet takes at most 25 metafields a call
COLLECTION_GID = "gid://shopify/Collection/"  # the parent's handle records hold products too
# A collection's connections past their first page (ADR 0039): every member, every
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
    back and the event retried (ADR 0039)."""


@dataclass
class CollectionPropagator(ParentAndChildren):
    """Acts on collections/* webhooks (:meth:`on_webhook`)."""

    client: ShopifyClient
    state: PropagationState
    pending: PendingMemberships
    gate: CatalogGate
    # How long a store's channel list is kept (ADR 0039 section 2; settings.py says why)
    channels_ttl_s: float = 300.0
    job_timeout_s: float = 30.0  # the longest a reorder's job is polled for
    _channels: dict[str, tuple[float, dict[str, str]]] = field(default_factory=dict)

    async def _from_parent(self, parent: Store, topic: str, body: dict[str, Any]) -> str:
        collection_id = str(body.get("admin_graphql_api_id") or gid("Collection", body.get("id")))
        if topic == "collections/delete":
            handle = await self.state.handle_of(parent.shop, collection_id)
            if handle:
                await run_all(self._delete(child, handle) for child in self.children)
            return "deleted" if handle else "unknown"
        updated_at = str(body.get("updated_at") or "")
        if older(updated_at, await self.state.applied_at(parent.shop, collection_id)):
            return "stale"
        view = await self.read(parent, {"id": collection_id})
        if view is None:
            return "gone"
        await self.state.set_handle(parent.shop, collection_id, view.handle)
        await run_all(self.sync_child(child, view) for child in self.children)
        if updated_at:
            await self.state.set_applied_at(parent.shop, collection_id, updated_at)
        return "propagated"

    async def _from_child(self, child: Store, topic: str, body: dict[str, Any]) -> str:
        """A child's collections/update: the body shows only handle, title and description,
        yet the child may have changed the sort order, rules or members (ADR 0035). So the
        child's collection is read whole and compared with the parent's in every field the
        parent owns there; drifted, it is synced back. A webhook older than the state last
        compared is skipped (``applied_at`` of the child, key ``collection:<handle>``)."""
        parent = self.parent
        if topic == "collections/delete" or parent is None:
            return "ignored"
        view = from_webhook(body)
        fields = parent_owned(child)
        key = JOURNAL_PREFIX + view.handle
        if older(view.updated_at, await self.state.applied_at(child.shop, key)):
            return "echo"  # a later state of it was compared already
        echoed = await self.state.wrote(child.shop, key) == fingerprint(view, fields)
        wanted = await self.read(parent, {"handle": view.handle})
        if wanted is None:
            return "child-only"  # the child's own collection: never touched
        shown = await self.read(child, {"handle": view.handle})
        if shown is None:
            return "gone"
        pending = await self.pending.of_collection(child.shop, view.handle)
        channels = (
            await self.channels(child, (*wanted.publications, *shown.publications))
            if "collection_publications" in fields
            else {}
        )
        if drifted(wanted, shown, fields, pending, channels) or await self._image_changed(
            child, fields, wanted, shown
        ):
            await self.sync_child(child, wanted)
            return "reasserted"
        await self.state.set_wrote(child.shop, key, fingerprint(shown, fields))
        if shown.updated_at:
            await self.state.set_applied_at(child.shop, key, shown.updated_at)
        return "echo" if echoed else "in-step"

    @property
    def namespace(self) -> str:
        """The metafield namespace that propagates: the parent's catalog namespace."""
        return self.parent.catalog_metafield_namespace if self.parent else "catalog"

    async def _image_changed(
        self, child: Store, fields: frozenset[str], wanted: CollectionView, shown: CollectionView
    ) -> bool:
        """Whether the parent's image or the child's is not the one last written (the
        parent's URL and the child's, recorded at the write): a child's edit of an image the
        parent owns, without rewriting an unchanged one. No record (written before this was
        kept): changed, so written once and recorded."""
        if "collection_image" not in fields:
            return False
        recorded = await self.state.wrote(child.shop, IMAGE_PREFIX + wanted.handle)
        return recorded != image_record(wanted.image, shown.image)

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
        return from_graphql(node, node["products"]["nodes"])

    async def sync_child(self, child: Store, view: CollectionView) -> None:
        """Make the child's collection show the parent's in the fields the parent owns there
        (created whole when missing); completed, or rolled back when a step fails."""
        fields = parent_owned(child)
        snapshot = await self.read(child, {"handle": view.handle})
        key = JOURNAL_PREFIX + view.handle
        entry: dict[str, Any] = {
            "kind": "collection", "op": new_id(), "handle": view.handle,
            "parent_collection": view.collection_id, "created": snapshot is None,
            "snapshot": snapshot.to_json() if snapshot else None, "steps": [],
            "added": [], "removed": [],
        }  # fmt: skip
        written = set(fields) if snapshot is not None else set(COLLECTION_FIELDS)
        try:
            await self._step(child, entry, "collection_set")
            await self.state.set_wrote(child.shop, key, fingerprint(view, fields))
            collection_id, image = await self._set(
                child, view, written, snapshot.collection_id if snapshot else None
            )
            if "collection_image" in written:
                record = image_record(view.image, image)
                await self.state.set_wrote(child.shop, IMAGE_PREFIX + view.handle, record)
            if "collection_metafields" in written:
                shown = snapshot or CollectionView(view.handle)
                await self._metafields_to(child, entry, view, shown, collection_id)
            if "collection_publications" in written:
                shown = snapshot or CollectionView(view.handle)
                await self._publish_as(child, entry, view, shown, collection_id)
            if not view.smart and "collection_products" in written:
                await self._membership(child, entry, view, snapshot, collection_id)
            if view.sort_order == MANUAL and "collection_product_order" in written:
                await self._reorder(child, entry, view.order, collection_id)
        except Exception:
            log.warning("child collection sync failed; rolling back", extra={
                "shop": child.shop, "handle": view.handle, "steps": entry["steps"]},
                exc_info=True)  # fmt: skip
            await self.rollback(child, entry)
            raise
        await self.state.journal_done(child.shop, key)

    async def _membership(
        self,
        child: Store,
        entry: dict[str, Any],
        view: CollectionView,
        snapshot: CollectionView | None,
        collection_id: str,
    ) -> None:
        shown = dict(snapshot.product_ids) if snapshot else {}
        missing = [h for h in view.products if h not in shown]
        found = await self.find_products(child, missing)
        plan = plan_membership(view.products, shown, found)
        await self.pending.replace(child.shop, view.handle, plan.pending)
        if plan.pending:
            # A product that arrived between the lookup and the record found nothing
            # pending then (product_arrived ran first): looked up once more, after it.
            found |= await self.find_products(child, plan.pending)
            plan = plan_membership(view.products, shown, found)
            await self.pending.replace(child.shop, view.handle, plan.pending)
        if plan.add:
            entry["added"] = list(plan.add)
            await self._step(child, entry, "products_add")
            await self._products(child, COLLECTION_ADD_PRODUCTS, collection_id, plan.add)
        if plan.remove:
            entry["removed"] = list(plan.remove)
            await self._step(child, entry, "products_remove")
            await self._products(child, COLLECTION_REMOVE_PRODUCTS, collection_id, plan.remove)

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
        child has (matched by title), and unpublished from the others it has.
        ``entry``: journal the step (None: undoing)."""
        titles = (*wanted.publications, *shown.publications)
        publish, unpublish = publication_changes(wanted, shown, await self.channels(child, titles))
        if (publish or unpublish) and entry is not None:
            await self._step(child, entry, "publications")
        for document, name, ids in (
            (PUBLISHABLE_PUBLISH, "publishablePublish", publish),
            (PUBLISHABLE_UNPUBLISH, "publishableUnpublish", unpublish),
        ):
            if ids:
                variables = {"id": target, "input": [{"publicationId": p} for p in ids]}
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
            data = await self._write(
                child, COLLECTION_REORDER_PRODUCTS, {"id": target, "moves": part},
                "collectionReorderProducts",
            )  # fmt: skip
            job = (data.get("collectionReorderProducts") or {}).get("job") or {}
            if job.get("id") and not job.get("done"):
                await self._job_done(child, str(job["id"]))

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

    async def product_arrived(self, child: Store, handle: str, product_id: str) -> int:
        """Product propagation put ``handle`` in the child: add it to the collections that
        were waiting for it there; how many. A collection not in the child yet keeps it
        pending (its own sync adds the product)."""
        added = 0
        for collection in await self.pending.of_product(child.shop, handle):
            target = await self.read(child, {"handle": collection})
            if target is None:
                continue
            if target.smart or handle in target.product_ids:
                await self.pending.done(child.shop, collection, handle)
                continue
            await self._products(
                child, COLLECTION_ADD_PRODUCTS, target.collection_id, (product_id,)
            )
            await self.pending.done(child.shop, collection, handle)
            added += 1
            await self._arrived_in_order(child, collection, target.collection_id)
        return added

    async def _arrived_in_order(self, child: Store, handle: str, target: str) -> None:
        """A product added late to a collection sorted by hand lands at its end: put back in
        the parent's order (when the parent owns that order in this child)."""
        if self.parent is None or "collection_product_order" not in parent_owned(child):
            return
        wanted = await self.read(self.parent, {"handle": handle})
        if wanted is not None and wanted.sort_order == MANUAL:
            await self._reorder(child, None, wanted.order, target)

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

    async def sync_all(
        self,
        children: Sequence[Store] | None = None,
        errors: list[dict[str, Any]] | None = None,
        deleted: list[str] | None = None,
    ) -> dict[str, int]:
        """Every parent collection to each child (all by default; the full catalog sync):
        the number synced per child. Members that arrived meanwhile are added too. A
        collection a child refuses (rolled back) is named in ``errors``; the rest go on.
        Collections the parent deleted unseen are deleted first (their handles in
        ``deleted``)."""
        parent = self.parent
        if parent is None:
            return {}
        children = self.children if children is None else list(children)
        every = {c.shop for c in children} >= {c.shop for c in self.children}
        counts = dict.fromkeys((c.shop for c in children), 0)
        listed = await self.listing(parent)
        removed = await self.remove_deleted(parent, children, listed, forget=every)
        if deleted is not None:
            deleted += removed
        for handle in listed.values():
            view = await self.read(parent, {"handle": handle})
            if view is None:
                continue
            await self.state.set_handle(parent.shop, view.collection_id, view.handle)
            for child in children:
                try:
                    await self.sync_child(child, view)
                except PropagationFailed as exc:
                    if errors is None:
                        raise
                    errors.append({"collection": handle, "shop": child.shop, "errors": str(exc)})
                    continue
                counts[child.shop] += 1
        return counts

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

    async def remove_deleted(
        self, parent: Store, children: Sequence[Store], listed: dict[str, str], *, forget: bool
    ) -> list[str]:
        """Reconcile deletes (ADR 0035): a parent collection propagated before (its handle
        recorded) that the parent no longer has (deleted while its collections/delete was
        not consumed) is deleted in ``children``; the handles removed. Its record is dropped
        only when every child was reconciled (``forget``)."""
        handles = set(listed.values())
        gone = {
            cid: handle
            for cid, handle in (await self.state.recorded_handles(parent.shop)).items()
            if cid.startswith(COLLECTION_GID) and cid not in listed and handle not in handles
        }
        for cid, handle in gone.items():
            await run_all(self._delete(child, handle) for child in children)
            if forget:
                await self.state.forget_handle(parent.shop, cid)
        return sorted(gone.values())

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
        name = (
            "collectionAddProducts"
            if document is COLLECTION_ADD_PRODUCTS
            else ("collectionRemoveProducts")
        )
        for start in range(0, len(ids), PRODUCTS_MOST):
            part = list(ids[start : start + PRODUCTS_MOST])
            await self._write(child, document, {"id": collection_id, "productIds": part}, name)

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

    async def _delete(self, child: Store, handle: str) -> None:
        """The child's collection with that handle deleted, and nothing pending for it."""
        await self.pending.replace(child.shop, handle, [])
        found = await self.read(child, {"handle": handle})
        if found is not None:
            await self._write(
                child, COLLECTION_DELETE, {"input": {"id": found.collection_id}},
                "collectionDelete",
            )  # fmt: skip

    async def rollback(self, child: Store, entry: dict[str, Any]) -> None:
        """Undo the journaled steps (each undo is safe whether or not its step applied); the
        journal stays when the undo itself fails, for the next start to finish."""
        handle, steps = str(entry["handle"]), list(entry["steps"])
        if steps and entry.get("created"):
            await self._delete(child, handle)
        elif steps and entry.get("snapshot"):
            await self._restore(child, entry, steps)
        await self.state.journal_done(child.shop, JOURNAL_PREFIX + handle)

    async def _restore(self, child: Store, entry: dict[str, Any], steps: list[str]) -> None:
        fields = parent_owned(child)
        before = CollectionView.from_json(entry["snapshot"])
        target = before.collection_id
        await self._set(child, before, set(fields), target)
        key = JOURNAL_PREFIX + before.handle
        await self.state.set_wrote(child.shop, key, fingerprint(before, fields))
        now = await self.read(child, {"id": target})
        if now is not None and {"metafields_set", "metafields_delete"} & set(steps):
            await self._metafields_to(child, None, before, now, target)
        if now is not None and "publications" in steps:
            await self._publish_as(child, None, before, now, target)
        shown = set(now.product_ids.values()) if now else set()
        if "products_add" in steps:
            undo = [p for p in entry.get("added") or () if p in shown]
            if undo:
                await self._products(child, COLLECTION_REMOVE_PRODUCTS, target, undo)
        if "products_remove" in steps:
            back = [p for p in entry.get("removed") or () if p not in shown]
            if back:
                await self._products(child, COLLECTION_ADD_PRODUCTS, target, back)
        if "products_reorder" in steps:
            await self._reorder(child, None, before.order, target)

    async def recover(self) -> int:
        """Roll back what a crash left half done, then redo those syncs from the parent."""
        parent, redone = self.parent, 0
        for child in self.children:
            for entry in (await self.state.journal_open(child.shop)).values():
                if entry.get("kind") != "collection":
                    continue
                await self.rollback(child, entry)
                if parent is None:
                    continue
                view = await self.read(parent, {"id": str(entry["parent_collection"])})
                if view is not None:
                    await self.sync_child(child, view)
                    redone += 1
        return redone
