"""Idempotency keys and event ids, derived from the source so that a replay is a no-op.

Every inventory command's key is ``shopify:{shop}:order:{order}:line:{line}:{command}``
followed by the fact that caused it, so one line can get several commands of one kind:

=====================================  ===========================================
fact                                   suffix (after ``:{command}``)
=====================================  ===========================================
orders/create                          none: ``...:line:{line}:reserve``
any other whole-order snapshot         ``:rev:{updated_at ms}-{content digest}``
the snapshot that cancelled the order  ``:cancel``
a fulfillment (webhook or embedded)    ``:fulfillment:{id}`` (``:relocated`` when it
                                       shipped from another location than reserved)
a refund (webhook or embedded)         ``:refund:{id}``; a return's restock adds
                                       ``:{refund line item id}``
an order edit                          ``:edit:{id}``
orders/delete                          ``:delete``
=====================================  ===========================================

A snapshot's revision hashes its content, never anything random, so a redelivery (or the
recorded effects re-published for it) carries the same keys.
"""

from __future__ import annotations

from order_consumer.domain.hooks import CREATE_FACT
from stocksync_common.events import CommandName, stable_id


def command_key(
    shop: str, order_id: str, line_id: str, command: CommandName, fact: str, detail: str = ""
) -> str:
    key = f"shopify:{shop}:order:{order_id}:line:{line_id}:{command}"
    if fact != CREATE_FACT:
        key += f":{fact}"
    return f"{key}:{detail}" if detail else key


def event_id(event_type: str, shop: str, order_id: str, fact: str) -> str:
    """One lifecycle event per (type, order, fact)."""
    return stable_id(event_type, shop, order_id, fact)
