"""What an alert is: a kind, the SKU, its levels and where it came from."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from stocksync_common.events import OrderLineRef, utcnow

AlertKind = Literal[
    "low_stock",
    "out_of_stock",
    "back_in_stock",
    "oversell",
    "reorder",
    "velocity",
    "digest",
    "unmapped_line",
    "rereserved",
]
ALERT_KINDS: tuple[AlertKind, ...] = get_args(AlertKind)
ChannelName = Literal["slack", "webhook", "email"]
CHANNEL_NAMES: tuple[ChannelName, ...] = get_args(ChannelName)


class Alert(BaseModel):
    """One alert, with a deterministic id: the same crossing always yields the same id."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: AlertKind
    sku: str
    available_before: int | None = None
    available: int | None = None
    threshold: int | None = None
    version: int | None = None
    location: str | None = None
    store: str | None = None
    order: OrderLineRef | None = None
    # oversell, unmapped_line: units the order asked for; rereserved: units held now
    requested: int | None = None
    # oversell: the refused line waits and is reserved when stock returns (ADR 0022)
    waiting: bool = False
    title: str | None = None  # unmapped_line: the line's product title
    reorder_quantity: int | None = None
    rate_per_minute: int | None = None
    items: list[Alert] = Field(default_factory=list)  # digest: the alerts it summarises
    correlation_id: str | None = None
    occurred_at: datetime = Field(default_factory=utcnow)


class Routed(BaseModel):
    """An alert and the channels it goes to."""

    model_config = ConfigDict(frozen=True)

    alert: Alert
    channels: tuple[ChannelName, ...]
