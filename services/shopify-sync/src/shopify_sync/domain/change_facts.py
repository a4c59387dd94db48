"""What the changes handler reads of an inventory change (ADR 0041): the facts
:func:`~shopify_sync.domain.quantities.pending_for_store` makes a store's pending entry of.

Both the shared ``StockChange`` (the full pydantic decode: a replay, a lax record) and the
changes consumer's narrow decode (:mod:`shopify_sync.narrow_changes`) have them; a field the
handler starts reading is added here first, and mypy then asks the narrow decode for it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class LevelsFacts(Protocol):
    @property
    def available(self) -> int: ...


class KitPartFacts(Protocol):
    """A kit's part of a component's budget: units per kit, the kits each store holds."""

    @property
    def units(self) -> int: ...
    @property
    def shares(self) -> Mapping[str, int]: ...


class KitComponentFacts(Protocol):
    """A kit's allocated component: units per kit, its direct shares, its kits' parts."""

    @property
    def units(self) -> int: ...
    @property
    def shares(self) -> Mapping[str, int]: ...
    @property
    def kit_parts(self) -> Mapping[str, KitPartFacts]: ...


class ChangeFacts(Protocol):
    """One (SKU, location) change as the handler reads it (``StockChange``'s meaning)."""

    @property
    def sku(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def after(self) -> LevelsFacts: ...
    @property
    def sku_available_after(self) -> int: ...
    @property
    def shares(self) -> Mapping[str, int] | None: ...
    @property
    def seen(self) -> Mapping[str, int] | None: ...
    @property
    def kit_parts(self) -> Mapping[str, KitPartFacts] | None: ...
    @property
    def kit_components(self) -> Mapping[str, KitComponentFacts] | None: ...
