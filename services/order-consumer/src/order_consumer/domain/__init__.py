"""Order-lifecycle rules: pure, no I/O. ``apply(state, hook, store, skumap)`` is the entry;
``apply_refusal(state, refusal)`` feeds back a reservation inventory-adjuster refused,
``apply_placement(state, placement)`` where a routed one was placed (ADR 0018),
``apply_rereservation(state, r)`` a refused one reserved when stock came back (ADR 0022)."""

from order_consumer.domain.hooks import Hook, parse_webhook, variants_to_map
from order_consumer.domain.lifecycle import apply
from order_consumer.domain.payloads import BadOrder
from order_consumer.domain.refusal import Refusal, apply_refusal, is_own_reserve
from order_consumer.domain.routing import Placement, apply_placement
from order_consumer.domain.state import LineState, Notice, OrderState, Outcome
from order_consumer.domain.waiting import Rereservation, apply_rereservation

__all__ = [
    "BadOrder",
    "Hook",
    "LineState",
    "Notice",
    "OrderState",
    "Outcome",
    "Placement",
    "Refusal",
    "Rereservation",
    "apply",
    "apply_placement",
    "apply_refusal",
    "apply_rereservation",
    "is_own_reserve",
    "parse_webhook",
    "variants_to_map",
]
