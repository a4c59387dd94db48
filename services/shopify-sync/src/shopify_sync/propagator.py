"""Parent-to-child catalog propagation with a step journal and compensating rollback.

A parent's products/* webhook: drop it when stale (older ``updated_at`` than the newest
applied), read the product from the parent (the current truth, metafields included), and
sync every child: ``productSet`` with the fields the parent owns there (all of them when
the product is created), then ``metafieldsSet`` in the catalog namespace. Each step is
journaled in Redis before it is sent; a failure rolls back what may have been done
(delete the created product, or set the snapshot read before back), so a child is never
left half synced; a journal left by a crash is rolled back and the sync redone on start.

A child's webhook is our own write echoed back when its parent-owned fields hash to what
we wrote (dropped); otherwise the child drifted from the parent in a parent-owned field
and the parent's version is written again (parent precedence). See ADR 0011.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from shopify_sync.adapters.documents import (
    METAFIELDS_DELETE,
    METAFIELDS_SET,
    MUTATION_COST,
    PRODUCT_DELETE,
    PRODUCT_SET,
    product_set_cost,
)
from shopify_sync.adapters.shopify import CostExceeded, ShopifyClient, ShopifyError
from shopify_sync.catalog_gate import CatalogGate
from shopify_sync.cut_bucket import AboveCutBucket, fits_some_bucket
from shopify_sync.domain.catalog import gid
from shopify_sync.domain.propagation import (
    CATALOG_FIELDS,
    ProductView,
    fingerprint,
    from_graphql,
    from_webhook,
    metafield_ids,
    metafield_inputs,
    metafield_keys,
    older,
    parent_owned,
    removed_metafields,
    set_input,
)
from shopify_sync.ports import PropagationState
from shopify_sync.product_read import ProductReader
from stocksync_common.events import new_id
from stocksync_common.stores import Store, StoresConfig

log = logging.getLogger(__name__)
# Told when a product is in a child after a sync (child, handle, product gid): collection
# propagation adds it to the collections waiting for it there (ADR 0021).
Arrived = Callable[[Store, str, str], Awaitable[object]]
METAFIELDS_SET_MOST = 25  # metafieldsSet takes at most 25 metafields a call
INPUT_MOST = 250  # any input list (Shopify's API limits)


class PropagationFailed(ShopifyError):
    """A child refused a catalog write (user errors)."""


@dataclass
class ParentAndChildren:
    """The stores file's parent and children; a webhook handled by the side it came from."""

    stores: StoresConfig

    @property
    def parent(self) -> Store | None:
        return next((s for s in self.stores.stores if s.role == "parent"), None)

    @property
    def children(self) -> list[Store]:
        return [s for s in self.stores.stores if s.role == "child"]

    async def on_webhook(self, store: Store, topic: str, body: dict[str, Any]) -> str:
        """Act on one webhook; what was done (for logs, metrics and tests)."""
        if store.role == "parent":
            return await self._from_parent(store, topic, body)
        return await self._from_child(store, topic, body)

    async def _from_parent(self, parent: Store, topic: str, body: dict[str, Any]) -> str:
        raise NotImplementedError

    async def _from_child(self, child: Store, topic: str, body: dict[str, Any]) -> str:
        raise NotImplementedError


@dataclass
class Propagator(ParentAndChildren):
    """Acts on products/* webhooks (:meth:`on_webhook`)."""

    client: ShopifyClient
    state: PropagationState
    gate: CatalogGate
    arrived: Arrived | None = None

    def __post_init__(self) -> None:
        self.reader = ProductReader(self.client, self.gate)

    async def _from_parent(self, parent: Store, topic: str, body: dict[str, Any]) -> str:
        product_id = str(body.get("admin_graphql_api_id") or gid("Product", body.get("id")))
        if topic == "products/delete":
            handle = await self.state.handle_of(parent.shop, product_id)
            if handle:
                await run_all(self._delete(child, handle) for child in self.children)
            return "deleted" if handle else "unknown"
        updated_at = str(body.get("updated_at") or "")
        if older(updated_at, await self.state.applied_at(parent.shop, product_id)):
            return "stale"
        node = await self.read(parent, {"id": product_id}, parent.catalog_metafield_namespace)
        if node is None:
            return "gone"
        view = from_graphql(node)
        await self.state.set_handle(parent.shop, product_id, view.handle)
        await run_all(self.sync_child(child, view) for child in self.children)
        if updated_at:
            await self.state.set_applied_at(parent.shop, product_id, updated_at)
        return "propagated"

    async def _from_child(self, child: Store, topic: str, body: dict[str, Any]) -> str:
        parent = self.parent
        if topic == "products/delete" or parent is None:
            return "ignored"
        view = from_webhook(body)
        fields = parent_owned(child)
        written = await self.state.wrote(child.shop, view.handle)
        if written == fingerprint(view, fields):
            return "echo"
        node = await self.read(parent, {"handle": view.handle}, parent.catalog_metafield_namespace)
        if node is None:
            return "child-only"
        wanted = from_graphql(node)
        if fingerprint(wanted, fields) == fingerprint(view, fields):
            await self.state.set_wrote(child.shop, view.handle, fingerprint(view, fields))
            return "in-step"
        if written != fingerprint(wanted, fields):
            await self.sync_child(child, wanted)
            return "reasserted"
        # What we wrote last is the parent's version: the webhook may be the echo of an
        # earlier write of ours, delivered after a later one. The child's product, read now,
        # tells; the sync that may follow starts from that read.
        current = await self.read(
            child, {"handle": wanted.handle}, child.catalog_metafield_namespace
        )
        if current is not None and fingerprint(from_graphql(current), fields) == written:
            return "stale-echo"
        await self._sync_from(child, wanted, current)
        return "reasserted"

    async def read(
        self, store: Store, identifier: dict[str, str], namespace: str
    ) -> dict[str, Any] | None:
        """The product whole: every variant, image and metafield (paged by the bucket)."""
        return await self.reader.read(store, identifier, namespace)

    async def sync_child(self, child: Store, view: ProductView) -> None:
        """Make the child show the parent's view in the fields the parent owns there;
        completed, or rolled back when a step fails."""
        self._fits_cut_bucket(child, view)
        current = await self.read(child, {"handle": view.handle}, child.catalog_metafield_namespace)
        await self._sync_from(child, view, current)

    def _fits_cut_bucket(self, child: Store, view: ProductView) -> None:
        """:class:`AboveCutBucket` before the child is read when even the least ``productSet``
        of ``view`` (the fields the parent owns there) is more than the child's bucket holds
        as last learned: the read would spend the cut bucket's points for a write that
        cannot go (a 2,048-variant product's read costs about 6,200)."""
        images = len(view.images) if "images" in parent_owned(child) else 0
        least = product_set_cost(len(view.variants), 0, images)
        need = self.client.over_ceiling(child.shop, "ProductSetSync", least)
        if need is not None and fits_some_bucket(need):
            raise AboveCutBucket(child.shop, need)

    async def _sync_from(
        self, child: Store, view: ProductView, current: dict[str, Any] | None
    ) -> None:
        """``sync_child`` from ``current``, the child's product as just read (None: absent)."""
        fields = parent_owned(child)
        namespace = child.catalog_metafield_namespace
        snapshot = from_graphql(current) if current else None
        entry: dict[str, Any] = {
            "op": new_id(), "handle": view.handle, "parent_product": view.product_id,
            "created": snapshot is None, "snapshot": snapshot.to_json() if snapshot else None,
            "metafield_keys": [list(k) for k in metafield_keys(view, namespace)],
            "steps": [],
        }  # fmt: skip
        try:
            await self._step(child, entry, "product_set")
            await self.state.set_wrote(child.shop, view.handle, fingerprint(view, fields))
            written = set(fields) if snapshot is not None else set(CATALOG_FIELDS)
            shown = [v.sku for v in snapshot.variants] if snapshot else []
            product_id = await self._set(
                child, view, written, snapshot.product_id if snapshot else None, shown
            )
            if "metafields" in written:
                await self._sync_metafields(child, entry, view, snapshot, product_id)
        except AboveCutBucket:  # the first step, refused unsent: nothing to roll back
            await self.state.journal_done(child.shop, view.handle)
            log.warning("productSet above the child's cut bucket; it waits for the limits",
                        extra={"shop": child.shop, "handle": view.handle})  # fmt: skip
            raise
        except Exception:
            log.warning("child sync failed; rolling back", extra={"shop": child.shop,
                        "handle": view.handle, "steps": entry["steps"]}, exc_info=True)  # fmt: skip
            await self.rollback(child, entry)
            raise
        await self.state.journal_done(child.shop, view.handle)
        if self.arrived is not None:
            await self.arrived(child, view.handle, product_id)

    async def _sync_metafields(
        self,
        child: Store,
        entry: dict[str, Any],
        view: ProductView,
        snapshot: ProductView | None,
        product_id: str,
    ) -> None:
        """Set the parent's metafields in the catalog namespace, then delete the ones the
        parent no longer has (only when parent and child share the namespace)."""
        namespace = child.catalog_metafield_namespace
        metafields = metafield_inputs(view, product_id, namespace)
        if metafields:
            await self._step(child, entry, "metafields_set")
            await self._metafields(child, metafields)
        parent = self.parent
        if snapshot is None or parent is None or parent.catalog_metafield_namespace != namespace:
            return
        gone = removed_metafields(snapshot, view, namespace)
        if gone:
            await self._step(child, entry, "metafields_delete")
            await self._delete_metafields(child, metafield_ids(gone, product_id))

    async def _step(self, child: Store, entry: dict[str, Any], step: str) -> None:
        """Journal a step before it is sent (it may be applied even if the answer is lost)."""
        entry["steps"].append(step)
        await self.state.journal_put(child.shop, entry["handle"], entry)

    async def _set(
        self,
        child: Store,
        view: ProductView,
        fields: set[str],
        product_id: str | None,
        shown: Collection[str] | None,
    ) -> str:
        """``productSet`` of ``view``'s ``fields`` on the child's product (by handle when
        ``product_id`` is None); the variants whose SKU is not among ``shown`` (what the
        child shows now) are stocked at 0 at the child's locations (None: none are)."""
        identifier = {"id": product_id} if product_id else {"handle": view.handle}
        quantities = dict.fromkeys(child.locations.values(), 0) if shown is not None else None
        new_skus = {v.sku for v in view.variants} - set(shown or ())
        data_in = set_input(view, fields, quantities=quantities, new_skus=new_skus)
        variables = {"identifier": identifier, "input": data_in}
        cost = product_set_cost(
            len(data_in["variants"]), len(data_in.get("metafields") or ()),
            len(data_in.get("files") or ()),
        )  # fmt: skip
        try:
            async with self.gate.turn(child.shop):
                data = await self.client.execute(
                    child, PRODUCT_SET, variables, operation="ProductSetSync", cost=cost
                )
        except CostExceeded as exc:  # refused unsent: only a cut bucket's end lets it through
            if not fits_some_bucket(exc.cost):
                raise
            raise AboveCutBucket(child.shop, exc.cost) from exc
        payload = data.get("productSet") or {}
        if payload.get("userErrors") or not payload.get("product"):
            raise PropagationFailed(
                f"{child.shop}: productSet refused: {payload.get('userErrors')}"
            )
        return str(payload["product"]["id"])

    async def _metafields(self, child: Store, metafields: list[dict[str, Any]]) -> None:
        """``metafieldsSet`` in calls of at most 25 (Shopify's limit per call)."""
        for start in range(0, len(metafields), METAFIELDS_SET_MOST):
            part = metafields[start : start + METAFIELDS_SET_MOST]
            async with self.gate.turn(child.shop):
                data = await self.client.execute(
                    child, METAFIELDS_SET, {"metafields": part},
                    operation="MetafieldsSetSync", cost=MUTATION_COST,
                )  # fmt: skip
            errors = (data.get("metafieldsSet") or {}).get("userErrors")
            if errors:
                raise PropagationFailed(f"{child.shop}: metafieldsSet refused: {errors}")

    async def _delete_metafields(self, child: Store, ids: list[dict[str, str]]) -> None:
        """``metafieldsDelete`` in calls of at most 250 (an input list's limit)."""
        for start in range(0, len(ids), INPUT_MOST):
            async with self.gate.turn(child.shop):
                data = await self.client.execute(
                    child, METAFIELDS_DELETE, {"metafields": ids[start : start + INPUT_MOST]},
                    operation="MetafieldsDeleteSync", cost=MUTATION_COST,
                )  # fmt: skip
            errors = (data.get("metafieldsDelete") or {}).get("userErrors")
            if errors:
                raise PropagationFailed(f"{child.shop}: metafieldsDelete refused: {errors}")

    async def _delete(self, child: Store, handle: str) -> None:
        node = await self.reader.head(child, {"handle": handle}, child.catalog_metafield_namespace)
        if node is None:
            return
        async with self.gate.turn(child.shop):
            await self.client.execute(
                child, PRODUCT_DELETE, {"input": {"id": node["id"]}},
                operation="ProductDeleteSync", cost=MUTATION_COST,
            )  # fmt: skip

    async def rollback(self, child: Store, entry: dict[str, Any]) -> None:
        """Undo the journaled steps (each undo is safe whether or not the step applied);
        the journal stays when the undo itself fails, for the next start to finish."""
        handle, steps = str(entry["handle"]), list(entry["steps"])
        if steps and entry.get("created"):
            await self._delete(child, handle)
        elif steps and entry.get("snapshot"):
            await self._restore(child, entry, steps)
        await self.state.journal_done(child.shop, handle)

    async def _restore(self, child: Store, entry: dict[str, Any], steps: list[str]) -> None:
        """Write the snapshot back: fields and variants (a variant the sync added goes, one
        it removed comes back stocked at 0), metafields set back, and the ones the sync
        created where the snapshot had none deleted."""
        fields = parent_owned(child)
        namespace = child.catalog_metafield_namespace
        before = ProductView.from_json(entry["snapshot"])
        now = await self.read(child, {"id": before.product_id}, namespace)
        shown = [v.sku for v in from_graphql(now).variants] if now else None
        await self._set(child, before, set(fields), before.product_id, shown)
        await self.state.set_wrote(child.shop, before.handle, fingerprint(before, fields))
        if not {"metafields_set", "metafields_delete"} & set(steps):
            return
        restore = metafield_inputs(before, before.product_id, namespace)
        if restore:
            await self._metafields(child, restore)
        had = set(metafield_keys(before, namespace))
        added = [tuple(k) for k in entry.get("metafield_keys") or () if tuple(k) not in had]
        if "metafields_set" in steps and added:
            await self._delete_metafields(child, metafield_ids(added, before.product_id))

    async def recover(self) -> int:
        """Roll back what a crash left half done, then redo those syncs from the parent."""
        parent, redone = self.parent, 0
        for child in self.children:
            for entry in (await self.state.journal_open(child.shop)).values():
                if entry.get("kind", "product") != "product":
                    continue  # a collection's: CollectionPropagator.recover
                await self.rollback(child, entry)
                if parent is None:
                    continue
                node = await self.read(
                    parent, {"id": str(entry["parent_product"])},
                    parent.catalog_metafield_namespace,
                )  # fmt: skip
                if node is not None:
                    await self.sync_child(child, from_graphql(node))
                    redone += 1
        return redone


async def run_all(calls: Any) -> None:
    """Run the per-child calls together; the first failure is raised once all ended (the
    consumer retries the event; children already in step are rewritten idempotently)."""
    results: Sequence[BaseException | None] = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
