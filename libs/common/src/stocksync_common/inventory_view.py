"""The answer of inventory-adjuster's read API, ``GET /inventory/{sku}``: one typed model that
the adjuster answers with and its callers (shopify-sync's targeted reconciliation,
wms-connector's reconciliation with the WMS, the ops console's stock page) read, so that they
all agree on every field.

``available`` at the top is the sum over locations; ``shares``, ``seen`` and ``kit_offsets``
are the SKU's channel shares, the sales each store has seen and a kit component's offsets,
as in ``SkuLevels``; ``policy``, ``allocation_threshold`` and ``kit_components`` are the
SKU's settings (``configure`` commands). More fields may follow: readers ignore unknown ones.
"""

from __future__ import annotations

from pydantic import Field

from stocksync_common.events import OversellPolicy, SkuLevels


class InventoryView(SkuLevels):
    """A SKU's levels as inventory.levels.v1 carries them, and its settings; where in the
    commands topic the levels came from (``partition``, ``offset``, the command's
    ``idempotency_key``) stays inside."""

    partition: int | None = Field(default=None, exclude=True)
    offset: int | None = Field(default=None, exclude=True)
    idempotency_key: str | None = Field(default=None, exclude=True)
    policy: OversellPolicy = "reject"
    allocation_threshold: int | None = None
    kit_components: dict[str, int] | None = None

    @classmethod
    def of(cls, levels: SkuLevels, settings: dict[str, object]) -> InventoryView:
        """The answer for a SKU's levels and its settings (``policy``, ``allocation_threshold``,
        ``kit_components``)."""
        return cls.model_validate(levels.model_dump() | settings)

    def levels(self) -> SkuLevels:
        """The levels alone (without their position)."""
        return SkuLevels.model_validate(self.model_dump(include=set(SkuLevels.model_fields)))
