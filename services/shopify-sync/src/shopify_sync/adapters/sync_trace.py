"""The end of each change's journey: sync latency and the Shopify mutation span.

When a change is recorded as pending, its origin time (the start of its trace, carried in the
W3C tracestate, ``stocksync_common.tracing.origin_ms``) and its trace context are noted per
(shop, SKU, location); the push that gets it acknowledged
observes ``stocksync_sync_latency_seconds`` and runs its ``inventorySetQuantities`` call in a
span that continues that trace (other changes in the batch are linked). The notes live in
this process only: after a restart or a rebalance the next push of a key is simply not
measured. The map is bounded; the oldest notes go first.
"""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator

from opentelemetry import trace

from shopify_sync.adapters.metrics import SYNC_SECONDS
from shopify_sync.domain.quantities import ItemKey
from stocksync_common.tracing import origin_ms

tracer = trace.get_tracer("stocksync.shopify-sync")
MAX_LINKS = 32


class SyncClock:
    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._notes: OrderedDict[tuple[str, ItemKey], tuple[int, trace.SpanContext]] = OrderedDict()

    def note(self, shop: str, keys: Iterable[ItemKey]) -> None:
        """Remember the current work's origin and span for keys not already waiting."""
        origin = origin_ms()
        if origin is None:
            return
        span = trace.get_current_span().get_span_context()
        for key in keys:
            self._notes.setdefault((shop, key), (origin, span))
        while len(self._notes) > self.limit:
            self._notes.popitem(last=False)

    @contextlib.contextmanager
    def mutation(self, shop: str, keys: list[ItemKey]) -> Iterator[trace.Span]:
        """A client span for one mutation, child of the first noted change's span."""
        spans = [n[1] for k in keys if (n := self._notes.get((shop, k))) and n[1].is_valid]
        parent = trace.set_span_in_context(trace.NonRecordingSpan(spans[0])) if spans else None
        links = [trace.Link(s) for s in spans[1 : MAX_LINKS + 1]]
        with tracer.start_as_current_span(
            "shopify-sync inventorySetQuantities",
            context=parent,
            kind=trace.SpanKind.CLIENT,
            links=links,
        ) as span:
            span.set_attribute("stocksync.shop", shop)
            span.set_attribute("stocksync.quantities", len(keys))
            yield span

    def waiting(self, shop: str, key: ItemKey) -> bool:
        """Whether a change of this key is noted and not yet acknowledged or settled."""
        return (shop, key) in self._notes

    def settled(self, shop: str, keys: Iterable[ItemKey]) -> None:
        """These keys' changes ended without a write (the store already showed them, it does
        not sell the item, or the change was refused): forget their notes unmeasured. Left
        behind, a note would date the key's next change from this one's origin (``note``
        keeps the oldest), and an idle store's next write would report minutes of latency."""
        for key in keys:
            self._notes.pop((shop, key), None)

    def done(self, shop: str, keys: Iterable[ItemKey]) -> None:
        """The store acknowledged these keys: observe each one's latency and forget it."""
        now = time.time_ns() // 1_000_000
        for key in keys:
            note = self._notes.pop((shop, key), None)
            if note is not None:
                SYNC_SECONDS.labels(shop).observe(max(0, now - note[0]) / 1000)


SYNC_CLOCK = SyncClock()
