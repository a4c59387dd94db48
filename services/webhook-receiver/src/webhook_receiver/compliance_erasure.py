"""What webhook-receiver itself does about a compliance request, after it was published.

The receiver keeps nothing about a customer: its only records are the delivery ledger's
dedupe entries (shop domain, delivery id, event ids), kept for the dedupe window. So a
``customers/*`` request needs no erasure here (it is logged as checked), and ``shop/redact``
erases every delivery record of that shop. Before either redact request is answered, its
subjects went onto the dead letters' redaction list (``entrypoints/shopify.py``,
:mod:`stocksync_common.dlq.redaction`: the customer's id, orders and a digest of their
email, or the shop). Everything else StockSync keeps is erased by the
consumers of ``compliance.v1``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from stocksync_common.events import ComplianceRequest
from stocksync_common.redis_client import REDIS_ERRORS, redis_failed
from webhook_receiver.intake import Ledger
from webhook_receiver.metrics import COMPLIANCE_ERASED

log = logging.getLogger(__name__)


async def erase_shop_records(ledger: Ledger, request: ComplianceRequest) -> int:
    return await ledger.erase_sender(request.shop)


async def nothing_kept_per_customer(_ledger: Ledger, _request: ComplianceRequest) -> int:
    return 0


COMPLIANCE_HANDLERS: dict[str, Callable[[Ledger, ComplianceRequest], Awaitable[int]]] = {
    "shop/redact": erase_shop_records,
    "customers/redact": nothing_kept_per_customer,
    "customers/data_request": nothing_kept_per_customer,
}


async def handle_compliance(ledger: Ledger, request: ComplianceRequest) -> None:
    """Run the receiver's part of a compliance request and log what it did."""
    facts = {
        "compliance_topic": request.topic,
        "shop": request.shop,
        "customer_id": request.customer_id,
        "orders": len(request.order_ids),
        "webhook_id": request.webhook_id,
    }
    try:
        erased = await COMPLIANCE_HANDLERS[request.topic](ledger, request)
    except REDIS_ERRORS as exc:
        if not redis_failed(exc):
            raise
        log.exception("compliance: webhook-receiver's erasure failed", extra=facts)
        return
    COMPLIANCE_ERASED.labels(request.topic).inc(erased)
    log.info("compliance: webhook-receiver's part done", extra={**facts, "erased": erased})
