"""What the sync logic needs from storage, so tests can hand it in-memory fakes.

Redis implementations live in ``adapters``; every key of one shop shares the hash tag
``{<shop>}`` so a script touches one slot (Redis Cluster ready).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from shopify_sync.domain.catalog import CatalogEntry
from shopify_sync.domain.intents import Intent
from shopify_sync.domain.quantities import Exposure, ItemKey, Known, Pending


class SyncState(Protocol):
    """Per shop: what is waiting to be pushed, and what the store was last seen showing."""

    async def record(self, shop: str, entries: Mapping[ItemKey, Pending]) -> int:
        """Keep each entry whose version is newer than the pending one and not older than
        the version last applied to the store; the number kept."""

    async def record_many(self, entries: Mapping[str, Mapping[ItemKey, Pending]]) -> dict[str, int]:
        """:meth:`record` for several shops at once (one round trip); the number kept per
        shop."""

    async def pending(self, shop: str) -> dict[ItemKey, Pending]: ...

    async def pending_count(self, shop: str) -> int: ...

    async def known(self, shop: str, keys: Iterable[ItemKey]) -> dict[ItemKey, Known]: ...

    async def pending_of(self, shop: str, keys: Iterable[ItemKey]) -> dict[ItemKey, Pending]:
        """The pending entries of these keys (those that have one)."""

    async def applied(self, shop: str, done: Mapping[ItemKey, tuple[Pending, int]]) -> None:
        """The store now shows ``level`` for each key because of ``pending``: remember both,
        and drop the pending entry if it is still that one."""

    async def observed(
        self, shop: str, levels: Mapping[ItemKey, int | None], since: int | None = None
    ) -> None:
        """The store shows these levels (None: not stocked there). ``since``: they were
        read, and the read began at that :meth:`stamp`; a level recorded after it (a write
        that landed while the read was on its way) is newer and stays. Without ``since``
        (what a write just set) they always count."""

    async def stamp(self, shop: str) -> int:
        """Where the shop's record of levels stands now: taken before a read of the store,
        passed to :meth:`observed` with its answer."""

    async def discard(self, shop: str, entries: Mapping[ItemKey, Pending]) -> None:
        """Drop pending entries (if still these) without touching what is known."""


@dataclass
class RoundRead:
    """What a push round starts from: the shop's pending changes, the level last seen of
    each of their items (``Known()`` where none), and the catalog entry of each of their
    SKUs the catalog holds (a SKU missing here is not in it)."""

    pending: dict[ItemKey, Pending]
    known: dict[ItemKey, Known]
    entries: dict[str, CatalogEntry]


class RoundReads(Protocol):
    async def pending_round(self, shop: str) -> RoundRead:
        """The shop's pending changes with their levels and catalog entries, in one step."""


class Settler(Protocol):
    """The records of a write the store applied, or of levels a round found already shown,
    in one step: what the store can sell (``Exposures.put``), the levels written and their
    pending entries dropped (``SyncState.applied``), levels set but left pending
    (``SyncState.observed``), and the write's intent dropped (``Intents.drop``). Whatever
    fails part way leaves no pending entry or intent gone whose exposure was not recorded."""

    async def settle(
        self,
        shop: str,
        exposures: Mapping[ItemKey, Exposure],
        applied: Mapping[ItemKey, tuple[Pending, int]],
        observed: Mapping[ItemKey, int | None],
        intents: Sequence[str],
    ) -> None: ...


@dataclass(frozen=True)
class Claim:
    """A raise under channel allocation, asked of :meth:`Exposures.claim`."""

    key: ItemKey
    floor: int  # what the store can sell now: never granted less
    want: int  # what it could sell after the write
    seen: int  # its own-sales counter the figures assume
    pending: Pending  # the truth version behind it: available and every shop's counter


class Exposures(Protocol):
    """Per SKU, across shops: what each store could still sell (see ``Exposure``). The gate
    that keeps stores' counts within truth while shares move: a store is raised only into
    room the other stores do not hold."""

    async def of(self, shop: str, keys: Sequence[ItemKey]) -> dict[ItemKey, Exposure]: ...

    async def put(self, shop: str, entries: Mapping[ItemKey, Exposure]) -> None: ...

    async def claim(self, shop: str, claims: Sequence[Claim]) -> list[int]:
        """Atomically per claim: the room truth's ``available`` leaves beside every other
        store's exposure now; grant ``min(want, max(floor, room))``, record it as this
        store's exposure before the write (so a racing raise elsewhere sees it), and return
        it."""


class CatalogState(Protocol):
    async def entries(self, shop: str, skus: Iterable[str]) -> dict[str, CatalogEntry]: ...

    async def all_entries(self, shop: str) -> list[CatalogEntry]: ...

    async def count(self, shop: str) -> int:
        """How many SKUs the store's mapping holds now."""

    async def put(
        self, shop: str, entries: Sequence[CatalogEntry], *, replace: bool = False
    ) -> None:
        """Store entries (and the reverse ``skumap:{shop}`` fields); ``replace`` drops every
        SKU not among them (a full discovery)."""

    async def remove(self, shop: str, skus: Iterable[str]) -> None: ...

    async def skus_of_variants(self, shop: str, variant_ids: Iterable[str]) -> dict[str, str]:
        """The SKU each variant (gid) is mapped to now, for those that are mapped."""

    async def swap_product_skus(self, shop: str, product_id: str, skus: Sequence[str]) -> list[str]:
        """Record the SKUs a products/* webhook showed for a product (none: forget it); the
        ones the previous webhook showed, or [] when none was recorded."""

    async def absent(self, shop: str, skus: Iterable[str], max_age_s: float) -> set[str]: ...

    async def mark_absent(self, shop: str, skus: Iterable[str]) -> None: ...

    async def clear_absent(self, shop: str, skus: Iterable[str]) -> None: ...

    async def meta(self, shop: str) -> dict[str, Any]: ...

    async def set_meta(self, shop: str, meta: Mapping[str, Any]) -> None: ...


class DeadLetters(Protocol):
    async def reject(
        self, shop: str, rejected: Mapping[ItemKey, tuple[Pending, str]], reason: str
    ) -> None:
        """Publish changes that can never be applied, each with its detail, to the DLQ."""


class PropagationState(Protocol):
    """Catalog propagation: step journals, our last write per child product, the newest
    parent ``updated_at`` applied, and parent product handles (see adapters)."""

    async def journal_put(self, shop: str, handle: str, entry: dict[str, Any]) -> None: ...

    async def journal_done(self, shop: str, handle: str) -> None: ...

    async def journal_open(self, shop: str) -> dict[str, dict[str, Any]]: ...

    async def wrote(self, shop: str, handle: str) -> str | None: ...

    async def set_wrote(self, shop: str, handle: str, fingerprint: str) -> None: ...

    async def applied_at(self, shop: str, product_id: str) -> str | None: ...

    async def set_applied_at(self, shop: str, product_id: str, updated_at: str) -> None: ...

    async def handle_of(self, shop: str, product_id: str) -> str | None: ...

    async def set_handle(self, shop: str, product_id: str, handle: str) -> None: ...

    async def recorded_handles(self, shop: str) -> dict[str, str]: ...

    async def forget_handle(self, shop: str, product_id: str) -> None: ...


class PendingMemberships(Protocol):
    """Per child: the parent's collection memberships of products the child does not have
    yet, applied when the product arrives (ADR 0021)."""

    async def replace(self, shop: str, collection: str, products: Iterable[str]) -> None: ...

    async def of_product(self, shop: str, product: str) -> list[str]: ...

    async def of_collection(self, shop: str, collection: str) -> list[str]: ...

    async def done(self, shop: str, collection: str, product: str) -> None: ...


class Intents(Protocol):
    """Per shop, the writes sent whose outcome is not recorded yet (see ``domain.intents``),
    by idempotency key."""

    async def put(self, shop: str, intent: Intent) -> None: ...

    async def drop(self, shop: str, keys: Sequence[str]) -> None: ...

    async def all(self, shop: str) -> dict[str, Intent]: ...
