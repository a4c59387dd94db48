"""A reservation inventory-adjuster refused, fed back into the order's state.

Under the ``reject`` oversell policy inventory-adjuster refuses a whole ``reserve`` when
stock is short and publishes ``order.oversold`` (on ``inventory.changed.v1``) with the
command's idempotency key. Until order-consumer learns it, the line believes it holds those
units; a later ``release`` or ``commit`` of them would come off *other* orders' holds
(inventory-adjuster clamps per SKU and location, not per order).

Applying a refusal (once per refused command: the fact is ``oversold:{idempotency key}``):

- the refused command is looked up among the commands the order's facts recorded, so only a
  ``reserve`` this order issued counts, with the quantity it asked for;
- the line's ``reserved`` drops by the refused units, down to 0 at most: units the state had
  already released or committed (a cancel, an update, a shipment processed before the
  refusal was known) are not taken twice. Those units went out as releases or commits of
  units never held; they are reported as ``unbacked`` (nothing can take them back here);
- the units taken off ``reserved`` become ``unheld`` (while the order is open): a later
  settle does not reserve them again, and takes them off first when the open units shrink,
  so the diffs only ever release or commit what is held; a shipment of them is an
  ``adjust`` -n, as for any unit shipped beyond the hold;
- the line is flagged ``oversold`` and counts the ``refused`` units; a routed reservation's
  refusal also keeps the locations it ``tried`` (ADR 0018).

No command is produced; for a routed order, the refusal of its last unplaced line makes
``order.routed`` due (:mod:`routing`). A plain refused reservation waits on the SKU's
waiting list in inventory-adjuster; when stock comes back the adjuster reserves it and
:mod:`waiting` holds the unheld units again (ADR 0022).
"""

from __future__ import annotations

from dataclasses import dataclass

from order_consumer.domain.hooks import CREATE_FACT
from order_consumer.domain.keys import command_key
from order_consumer.domain.routing import routed_notice
from order_consumer.domain.state import FactRecord, OrderState, Outcome, feedback_start


@dataclass(frozen=True)
class Refusal:
    """What ``order.oversold`` says about one of our reservations."""

    shop: str
    order_id: str
    line_id: str
    idempotency_key: str
    tried: tuple[str, ...] = ()  # a routed reservation: the locations tried, in order

    @property
    def fact(self) -> str:
        return f"oversold:{self.idempotency_key}"


def is_own_reserve(shop: str, order_id: str, line_id: str, idempotency_key: str) -> bool:
    """Whether the key is one order-consumer gives a ``reserve`` of that order line
    (``shopify:{shop}:order:{order}:line:{line}:reserve``, then the fact, if any)."""
    prefix = command_key(shop, order_id, line_id, "reserve", CREATE_FACT)
    return idempotency_key == prefix or idempotency_key.startswith(prefix + ":")


def apply_refusal(state: OrderState | None, refusal: Refusal) -> Outcome | None:
    """Apply a refused reservation (``state`` is never mutated: a copy is returned); None
    when the order's state does not know that command (not ours, or the state expired)."""
    if state is None:
        return None
    work, replay, cmd, line = feedback_start(state, refusal.fact, refusal.idempotency_key)
    if replay is not None:
        return replay
    if cmd is None or line is None:
        return None
    taken = min(cmd.quantity, line.reserved)
    line.reserved -= taken
    if not (work.cancelled or work.deleted):
        line.unheld = min(line.unheld + taken, max(0, line.open - line.reserved))
    line.refused += cmd.quantity
    line.oversold = True
    line.tried = list(refusal.tried) or line.tried
    notices = routed_notice(work)
    work.facts[refusal.fact] = FactRecord(notices=notices)
    return Outcome(state=work, notices=notices, changed=True, unbacked=cmd.quantity - taken)
