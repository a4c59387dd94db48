"""A stock change as the notifier reads it: the few fields its rules and alerts use.

The consumer reads each ``inventory.changed`` record into a :class:`ChangeSeen` (see
``notifier.decoding``, ADR 0042) rather than the whole pydantic ``InventoryChanged``; the
handler and the domain are typed against the protocols here, which both satisfy (tests and
tools still hand the handler full events).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, Protocol

from stocksync_common.events import CommandName, OrderLineRef


class OrderFacts(Protocol):
    """The order line a change is for (``OrderLineRef`` or :class:`SeenOrder`)."""

    @property
    def shop(self) -> str: ...
    @property
    def order_id(self) -> str: ...
    @property
    def line_id(self) -> str | None: ...


class ChangeFacts(Protocol):
    """What the rules and alerts read of a change (``StockChange`` or :class:`SeenChange`)."""

    @property
    def sku(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def command(self) -> CommandName: ...
    @property
    def version(self) -> int: ...
    @property
    def sku_available_before(self) -> int: ...
    @property
    def sku_available_after(self) -> int: ...
    @property
    def backordered(self) -> bool: ...
    @property
    def order(self) -> OrderFacts | None: ...


class ChangeEvent(Protocol):
    """What the handler reads of an ``inventory.changed`` event (it or :class:`ChangeSeen`)."""

    @property
    def correlation_id(self) -> str: ...
    @property
    def shop(self) -> str | None: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def payload(self) -> ChangeFacts: ...


# Tuples: built in a fraction of a dataclass's time (the consumer builds one per change).
class SeenOrder(NamedTuple):
    shop: str
    order_id: str
    line_id: str | None = None


class SeenChange(NamedTuple):
    sku: str
    location: str
    command: CommandName
    version: int
    sku_available_before: int
    sku_available_after: int
    backordered: bool = False
    order: SeenOrder | None = None


class ChangeSeen(NamedTuple):
    """An ``inventory.changed`` event, the fields the notifier uses only."""

    correlation_id: str
    shop: str | None
    occurred_at: datetime
    payload: SeenChange
    type: str = "inventory.changed"


def order_ref(order: OrderFacts | None) -> OrderLineRef | None:
    """The order line as an alert carries it."""
    if order is None or isinstance(order, OrderLineRef):
        return order
    return OrderLineRef(shop=order.shop, order_id=order.order_id, line_id=order.line_id)
