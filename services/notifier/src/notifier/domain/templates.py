"""Alert texts: one line per kind with the SKU, store, levels, order and an ops console link."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from notifier.domain.alerts import Alert

HEADLINES = {
    "low_stock": ":warning: {sku} is low: {available} available (threshold {threshold})",
    "out_of_stock": ":rotating_light: {sku} is out of stock: {available} available",
    "back_in_stock": ":white_check_mark: {sku} is back in stock: {available} available",
    "oversell": ":bangbang: {sku} oversold: {available} available",
    "reorder": ":package: {sku} reached its reorder point {threshold}: reorder {reorder_quantity}",
    "velocity": ":chart_with_upwards_trend: {sku} sells fast: {rate_per_minute}/min "
    "(limit {threshold}/min)",
    "digest": ":memo: {sku}: {count} more alerts during the quiet period",
    "unmapped_line": ":grey_question: {store}: an order line has no SKU mapping: {title}",
    "rereserved": ":arrows_counterclockwise: {sku}: a refused order is reserved now "
    "({requested} units, stock came back)",
}
UNMAPPED_PREFIX = "unmapped:"  # an unmapped_line alert's subject: unmapped:<shop>
SUBJECT_PREFIX = "[StockSync]"


@dataclass(frozen=True)
class Rendered:
    title: str
    lines: list[str]
    link: str

    @property
    def text(self) -> str:
        return "\n".join([self.title, *self.lines, f"Ops console: {self.link}"])


def console_link(base_url: str, sku: str) -> str:
    """The SKU's stock page; the mapping page for a store's unmapped lines."""
    if sku.startswith(UNMAPPED_PREFIX):
        return f"{base_url.rstrip('/')}/mapping"
    return f"{base_url.rstrip('/')}/inventory/{quote(sku, safe='')}"


def render(alert: Alert, console_url: str) -> Rendered:
    fields = alert.model_dump()
    fields["count"] = len(alert.items)
    title = HEADLINES[alert.kind].format(**fields)
    lines: list[str] = []
    if alert.store:
        lines.append(f"Store: {alert.store}")
    if alert.available_before is not None and alert.available is not None:
        lines.append(f"Available: {alert.available_before} -> {alert.available}")
    if alert.location:
        lines.append(f"Location: {alert.location}")
    if alert.requested is not None:
        lines.append(f"Requested: {alert.requested}")
    if alert.waiting:
        lines.append("Waiting: reserved by itself when stock returns, oldest order first")
    if alert.order is not None:
        line = f" line {alert.order.line_id}" if alert.order.line_id else ""
        lines.append(f"Order: {alert.order.shop} #{alert.order.order_id}{line}")
    lines.extend(f"- {render(item, console_url).title}" for item in alert.items)
    return Rendered(title, lines, console_link(console_url, alert.sku))


def email_subject(alert: Alert, console_url: str) -> str:
    title = render(alert, console_url).title
    return f"{SUBJECT_PREFIX} {title.split(' ', 1)[1] if title.startswith(':') else title}"
