"""W3C trace context carried through Kafka headers, so one trace spans every hop.

Every trace also carries, in its W3C ``tracestate`` (``stocksync=<epoch ms>``), the time its
first span started: at webhook-receiver, when the webhook arrived. Spans inherit their
parent's trace state and the trace context travels in the Kafka headers, so the last hop
(shopify-sync) can measure the whole webhook-to-Shopify latency (:func:`origin_ms`).

Exporting is off by default. ``STOCKSYNC_OTEL_EXPORTER`` selects it: ``none``; ``console``
(spans as JSON on stdout); ``otlp`` (OTLP over HTTP to ``STOCKSYNC_OTLP_ENDPOINT``, else the
standard ``OTEL_EXPORTER_OTLP_ENDPOINT``; the image needs the package
``opentelemetry-exporter-otlp-proto-http``); ``jsonl:<dir>`` (one JSON line per span in
``<dir>/<service>-<pid>.jsonl``, what the tracing test reads).
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes
from pydantic_settings import BaseSettings, SettingsConfigDict

_PROPAGATOR = TraceContextTextMapPropagator()
ORIGIN_KEY = "stocksync"
Headers = Sequence[tuple[str, bytes]]


class TracingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STOCKSYNC_", extra="ignore")

    otel_exporter: str = "none"
    otlp_endpoint: str | None = None  # full traces URL; else OTEL_EXPORTER_OTLP_ENDPOINT


class _HeaderGetter(Getter[Headers]):
    def get(self, carrier: Headers, key: str) -> list[str] | None:
        values = [v.decode("latin-1") for k, v in carrier if k.lower() == key.lower()]
        return values or None

    def keys(self, carrier: Headers) -> list[str]:
        return [k for k, _ in carrier]


_GETTER = _HeaderGetter()


class JsonLinesExporter(SpanExporter):
    """Appends each finished span as one JSON line to a file (one file per process)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = [json.dumps(span_record(s)) + "\n" for s in spans]
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.writelines(lines)
        return SpanExportResult.SUCCESS


def span_record(span: ReadableSpan) -> dict[str, object]:
    """The fields of a span a reader needs: ids, parent, name, service, times, attributes."""
    ctx = span.get_span_context()
    parent = span.parent
    return {
        "trace_id": f"{ctx.trace_id:032x}" if ctx else None,
        "span_id": f"{ctx.span_id:016x}" if ctx else None,
        "parent_id": f"{parent.span_id:016x}" if parent else None,
        "name": span.name,
        "kind": span.kind.name,
        "service": span.resource.attributes.get("service.name"),
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "attributes": {k: str(v) for k, v in (span.attributes or {}).items()},
        "links": [f"{link.context.trace_id:032x}" for link in span.links],
    }


def make_exporter(choice: str, service: str, endpoint: str | None = None) -> SpanExporter | None:
    """The exporter ``STOCKSYNC_OTEL_EXPORTER`` names, or None for ``none``."""
    kind, _, arg = choice.strip().partition(":")
    if kind in ("", "none"):
        return None
    if kind == "console":
        return ConsoleSpanExporter(service_name=service)
    if kind == "jsonl" and arg:
        return JsonLinesExporter(Path(arg) / f"{service}-{os.getpid()}.jsonl")
    if kind == "otlp":
        module = importlib.import_module("opentelemetry.exporter.otlp.proto.http.trace_exporter")
        exporter: SpanExporter = module.OTLPSpanExporter(endpoint=endpoint)
        return exporter
    raise ValueError(f"STOCKSYNC_OTEL_EXPORTER: unknown exporter {choice!r}")


def setup_tracing(service: str, exporter: str | None = None) -> TracerProvider:
    """Install a tracer provider with the configured exporter (none by default)."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(
        resource=Resource.create({"service.name": service}), sampler=OriginSampler()
    )
    settings = TracingSettings()
    chosen = make_exporter(exporter or settings.otel_exporter, service, settings.otlp_endpoint)
    if isinstance(chosen, JsonLinesExporter):
        provider.add_span_processor(SimpleSpanProcessor(chosen))
    elif chosen is not None:
        provider.add_span_processor(BatchSpanProcessor(chosen))
    trace.set_tracer_provider(provider)
    return provider


def inject_headers(ctx: otel_context.Context | None = None) -> list[tuple[str, bytes]]:
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=ctx)
    return [(k, v.encode("latin-1")) for k, v in carrier.items()]


def extract_context(headers: Headers | None) -> otel_context.Context:
    return _PROPAGATOR.extract(list(headers or ()), getter=_GETTER)


def origin_ms(ctx: otel_context.Context | None = None) -> int | None:
    """When the trace of the current span (or ``ctx``'s) started, in epoch milliseconds."""
    value = trace.get_current_span(ctx).get_span_context().trace_state.get(ORIGIN_KEY)
    return int(value) if value is not None and value.isdigit() else None


class OriginSampler(Sampler):
    """Samples every span and stamps a new trace's start time into its trace state."""

    def should_sample(
        self,
        parent_context: otel_context.Context | None,
        trace_id: int,
        name: str,
        kind: trace.SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[trace.Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        del trace_id, name, kind, links, trace_state  # the decision depends on the parent only
        parent = trace.get_current_span(parent_context).get_span_context()
        state = parent.trace_state if parent.is_valid else trace.TraceState()
        if ORIGIN_KEY not in state:
            state = state.add(ORIGIN_KEY, str(time.time_ns() // 1_000_000))
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, state)

    def get_description(self) -> str:
        return "OriginSampler"
