"""Order-lifecycle rules: pure, no I/O. ``apply(state, hook, store, skumap)`` is the entry;
``apply_refusal(state, refusal)`` feeds back a reservation inventory-adjuster refused."""

from order_consumer.domain.hooks import Hook, parse_webhook, variants_to_map
from order_consumer.domain.lifecycle import apply
from order_consumer.domain.payloads import BadOrder
from order_consumer.domain.refusal import Refusal, apply_refusal, is_own_reserve
from order_consumer.domain.state import LineState, Notice, OrderState, Outcome

__all__ = [
    "BadOrder",
    "Hook",
    "LineState",
    "Notice",
    "OrderState",
    "Outcome",
    "Refusal",
    "apply",
    "apply_refusal",
    "is_own_reserve",
    "parse_webhook",
    "variants_to_map",
]
