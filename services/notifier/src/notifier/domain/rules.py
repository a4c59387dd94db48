"""Alert rules: a default, rules by tag and rules by SKU, resolved field by field.

Resolution: the default, then each rule of the SKU's tags in the order the tags are listed
for the SKU, then the SKU's own rule; a field left out (``None``) inherits. Tags are not
known to StockSync yet, so the rules document carries the SKU -> tags map itself.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from notifier.domain.alerts import ALERT_KINDS, AlertKind, ChannelName


class Rule(BaseModel):
    """Thresholds and switches; every field optional so a rule can override just one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    low_stock: int | None = Field(default=None, ge=1)  # alert when available falls to or below
    out_of_stock: bool | None = None
    back_in_stock: bool | None = None
    oversell: bool | None = None
    unmapped_line: bool | None = None  # an order line no SKU is mapped for (per store)
    rereserved: bool | None = None  # a refused order line reserved when stock came back
    reorder_point: int | None = Field(default=None, ge=0)
    reorder_quantity: int | None = Field(default=None, ge=1)
    velocity_per_minute: int | None = Field(default=None, ge=1)  # alert above this rate
    quiet_period_s: int | None = Field(default=None, ge=0, le=7 * 24 * 3600)
    channels: dict[AlertKind, list[ChannelName]] | None = None

    @model_validator(mode="after")
    def _reorder_needs_quantity(self) -> Rule:
        if self.reorder_point is not None and self.reorder_quantity is None:
            raise ValueError("reorder_point needs a reorder_quantity in the same rule")
        return self


class Effective(BaseModel):
    """The rule that applies to one SKU, every field resolved."""

    model_config = ConfigDict(frozen=True)

    low_stock: int | None = None
    out_of_stock: bool = True
    back_in_stock: bool = True
    oversell: bool = True
    unmapped_line: bool = True
    rereserved: bool = True
    reorder_point: int | None = None
    reorder_quantity: int | None = None
    velocity_per_minute: int | None = None
    quiet_period_s: int = 0
    channels: dict[AlertKind, list[ChannelName]] = Field(default_factory=dict)

    def channels_for(
        self, kind: AlertKind, configured: tuple[ChannelName, ...]
    ) -> list[ChannelName]:
        """The channels a kind goes to: the rule's routing, else every configured channel."""
        wanted = self.channels.get(kind, list(configured))
        return [c for c in wanted if c in configured]

    def described(self, configured: tuple[ChannelName, ...]) -> dict[str, Any]:
        """Every field as it applies, the channels of every alert kind spelled out."""
        routes = {kind: self.channels_for(kind, configured) for kind in ALERT_KINDS}
        return {**self.model_dump(mode="json", exclude={"channels"}), "channels": routes}


class RuleSet(BaseModel):
    """The whole rules document (file, API and Redis all hold this shape)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: Rule = Field(default_factory=Rule)
    tags: dict[str, list[str]] = Field(default_factory=dict)  # sku -> tags, for now
    by_tag: dict[str, Rule] = Field(default_factory=dict)
    by_sku: dict[str, Rule] = Field(default_factory=dict)

    def resolve(self, sku: str) -> Effective:
        """The SKU's rule; a SKU with nothing of its own (most) gets the default's, built once."""
        own = [self.by_tag[t] for t in self.tags.get(sku, []) if t in self.by_tag]
        if sku in self.by_sku:
            own.append(self.by_sku[sku])
        return self._merged(own) if own else self.default_effective

    @cached_property
    def default_effective(self) -> Effective:
        return self._merged([])

    def _merged(self, own: list[Rule]) -> Effective:
        merged: dict[str, object] = {}
        for layer in (self.default, *own):
            merged.update(layer.model_dump(exclude_none=True))
        return Effective.model_validate(merged)

    def in_effect(self, configured: tuple[ChannelName, ...]) -> dict[str, Any]:
        """The rules as they apply: the default's, and each SKU's that has a rule or tags of
        its own, every field resolved (an empty document still alerts: these say how)."""
        skus = sorted({*self.by_sku, *self.tags})
        return {
            "default": self.default_effective.described(configured),
            "by_sku": {sku: self.resolve(sku).described(configured) for sku in skus},
        }

    def unknown_channels(self, configured: tuple[ChannelName, ...]) -> list[str]:
        """Channels the rules route to that are not configured on this notifier."""
        rules = [self.default, *self.by_tag.values(), *self.by_sku.values()]
        named = {c for r in rules for cs in (r.channels or {}).values() for c in cs}
        return sorted(named - set(configured))
