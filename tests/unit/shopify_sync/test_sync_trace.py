"""SyncClock: sync latency observed once per acknowledged key, mutation span in the trace."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from shopify_sync.adapters import sync_trace
from shopify_sync.adapters.sync_trace import SyncClock
from stocksync_common.tracing import OriginSampler

SHOP = "clock-test.myshopify.com"


def observed() -> float:
    value = REGISTRY.get_sample_value("stocksync_sync_latency_seconds_count", {"shop": SHOP})
    return value or 0.0


def test_latency_and_mutation_span_follow_the_noted_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=OriginSampler())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    monkeypatch.setattr(sync_trace, "tracer", tracer)
    clock = SyncClock()
    before = observed()

    with tracer.start_as_current_span("record") as record:
        clock.note(SHOP, [("SKU-1", "wh-1"), ("SKU-2", "wh-1")])
    clock.note(SHOP, [("SKU-3", "wh-1")])  # outside any trace: nothing to measure

    keys = [("SKU-1", "wh-1"), ("SKU-2", "wh-1"), ("SKU-3", "wh-1")]
    with clock.mutation(SHOP, keys):
        pass
    clock.done(SHOP, keys)
    clock.done(SHOP, keys)  # acknowledged twice: measured once

    assert observed() - before == 2
    spans: tuple[ReadableSpan, ...] = exporter.get_finished_spans()
    mutation = next(s for s in spans if s.name == "shopify-sync inventorySetQuantities")
    assert mutation.parent is not None
    assert mutation.parent.span_id == record.get_span_context().span_id
    assert mutation.context is not None
    assert mutation.context.trace_id == record.get_span_context().trace_id
    assert mutation.kind == trace.SpanKind.CLIENT


def test_notes_are_bounded_oldest_first() -> None:
    provider = TracerProvider(sampler=OriginSampler())
    clock = SyncClock(limit=2)
    with provider.get_tracer("t").start_as_current_span("record"):
        clock.note(SHOP, [("A", "l"), ("B", "l"), ("C", "l")])
    before = observed()
    clock.done(SHOP, [("A", "l"), ("B", "l"), ("C", "l")])
    assert observed() - before == 2, "A was dropped to keep the bound"
