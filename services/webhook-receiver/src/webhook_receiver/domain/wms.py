"""The WMS event schema, one model per event type (the OpenAPI request body is built from it).

What a line's ``quantity`` means depends on the type, so each type bounds it on its own:
a receipt or a shipment moves units (at least 1), an adjustment is a signed delta (never 0),
a cycle count is the counted on-hand (0 or more, one count per SKU and location). A shipment
names the order it ships.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from stocksync_common.events import WmsEvent

MAX_UNITS = 1_000_000_000
MAX_LINES = 1000


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class _Line(_Model):
    sku: str = Field(min_length=1, max_length=255)
    location: str = Field(min_length=1, max_length=128)


class MovedLine(_Line):
    quantity: int = Field(ge=1, le=MAX_UNITS, description="units moved")


class DeltaLine(_Line):
    quantity: int = Field(ge=-MAX_UNITS, le=MAX_UNITS, description="signed change, never 0")

    @model_validator(mode="after")
    def _not_zero(self) -> DeltaLine:
        if self.quantity == 0:
            raise ValueError("an adjustment of 0 changes nothing")
        return self


class CountedLine(_Line):
    quantity: int = Field(ge=0, le=MAX_UNITS, description="counted on-hand")


class _Event(_Model):
    event_id: str = Field(min_length=1, max_length=128)
    occurred_at: datetime
    warehouse_id: str | None = Field(default=None, max_length=128)


class Receipt(_Event):
    event_type: Literal["receipt"]
    lines: list[MovedLine] = Field(min_length=1, max_length=MAX_LINES)


class Adjustment(_Event):
    event_type: Literal["adjustment"]
    lines: list[DeltaLine] = Field(min_length=1, max_length=MAX_LINES)


class CycleCount(_Event):
    event_type: Literal["cycle_count"]
    lines: list[CountedLine] = Field(min_length=1, max_length=MAX_LINES)

    @model_validator(mode="after")
    def _one_count_per_place(self) -> CycleCount:
        places = [(line.sku, line.location) for line in self.lines]
        if len(set(places)) != len(places):
            raise ValueError("a SKU is counted twice at the same location")
        return self


class Shipment(_Event):
    event_type: Literal["shipment"]
    order_id: str = Field(min_length=1, max_length=128)
    tracking_number: str | None = Field(default=None, max_length=128)
    carrier: str | None = Field(default=None, max_length=128)
    lines: list[MovedLine] = Field(min_length=1, max_length=MAX_LINES)


WmsEventIn = Annotated[
    Receipt | Adjustment | CycleCount | Shipment, Field(discriminator="event_type")
]
WMS_EVENT: TypeAdapter[WmsEventIn] = TypeAdapter(WmsEventIn)


class InvalidWmsEvent(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def parse_wms_event(body: bytes) -> WmsEvent:
    """Validate the raw body against its type's schema; the shared event model on success."""
    try:
        event = WMS_EVENT.validate_json(body)
    except ValidationError as exc:
        errors = [
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:10]
        ]
        raise InvalidWmsEvent(errors) from None
    return WmsEvent.model_validate(event.model_dump())
