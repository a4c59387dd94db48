"""Dead letters as the consumers write them, for tests that replay one."""

from __future__ import annotations

import time

import orjson

from stocksync_common.dlq import dead_letter_body
from stocksync_common.events import InventoryCommand, InventoryCommandRequested, encode
from stocksync_common.kafka import event_headers
from stocksync_common.retry import Origin
from stocksync_common.topics import INVENTORY_COMMANDS

Headers = list[tuple[str, bytes]]


def exhausted_adjust(
    sku: str, key: str, quantity: int, group: str = "inventory-adjuster"
) -> tuple[bytes, Headers]:
    """An ``adjust`` of ``sku`` by ``quantity`` that ran out of retries while Redis was away,
    dead-lettered by ``group`` the way the consumer does it: the DLQ record's value and
    headers. Replayable, and applied once when replayed (idempotency key ``key``)."""
    command = InventoryCommand(
        command="adjust", idempotency_key=key, sku=sku, location="wh-1", quantity=quantity,
        reason="e2e replay",
    )  # fmt: skip
    event = InventoryCommandRequested(payload=command, source="e2e", correlation_id=f"e2e-{key}")
    headers = event_headers(event)
    body = dead_letter_body(
        Origin(INVENTORY_COMMANDS, 0, 0), sku.encode(), encode(event), headers,
        group=group, exc=ConnectionError("redis went away"), attempts=5, reason="exhausted",
        failed_at_ms=int(time.time() * 1000),
    )  # fmt: skip
    return orjson.dumps(body), headers
