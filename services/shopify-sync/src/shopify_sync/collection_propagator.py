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
write so a child's image edit is put back and an unchanged image never rewritten. The calls
themselves (reads, paging, each write step, the removal's and the reorder's jobs) are in
``collection_writes``; this module decides which steps each child needs and undoes them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from shopify_sync.adapters.collection_documents import (
    COLLECTION_ADD_PRODUCTS,
    COLLECTION_DELETE,
    COLLECTION_REMOVE_PRODUCTS,
)
from shopify_sync.adapters.shopify import ShopifyClient
from shopify_sync.catalog_gate import CatalogGate
from shopify_sync.collection_writes import CollectionWrites
from shopify_sync.domain.catalog import gid
from shopify_sync.domain.collections import (
    COLLECTION_FIELDS,
    IMAGE_PREFIX,
    JOURNAL_PREFIX,
    MANUAL,
    CollectionView,
    drifted,
    fingerprint,
    from_webhook,
    image_record,
    parent_owned,
    plan_membership,
)
from shopify_sync.domain.propagation import older
from shopify_sync.ports import PendingMemberships, PropagationState
from shopify_sync.propagator import ParentAndChildren, PropagationFailed, run_all
from stocksync_common.events import new_id
from stocksync_common.stores import Store

log = logging.getLogger(__name__)
COLLECTION_GID = "gid://shopify/Collection/"  # the parent's handle records hold products too


@dataclass
class CollectionPropagator(ParentAndChildren, CollectionWrites):
    """Acts on collections/* webhooks (:meth:`on_webhook`)."""

    client: ShopifyClient
    state: PropagationState
    pending: PendingMemberships
    gate: CatalogGate
    # How long a store's channel list is kept (ADR 0038 section 2; settings.py says why)
    channels_ttl_s: float = 300.0
    job_timeout_s: float = 30.0  # the longest a removal's or reorder's job is polled
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
