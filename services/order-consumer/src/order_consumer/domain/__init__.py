"""Order-lifecycle rules: pure, no I/O. ``apply(state, hook, store, skumap)`` is the entry."""

from order_consumer.domain.hooks import Hook, parse_webhook, variants_to_map
from order_consumer.domain.lifecycle import apply
from order_consumer.domain.payloads import BadOrder
from order_consumer.domain.state import LineState, Notice, OrderState, Outcome

__all__ = [
    "BadOrder",
    "Hook",
    "LineState",
    "Notice",
    "OrderState",
    "Outcome",
    "apply",
    "parse_webhook",
    "variants_to_map",
]
