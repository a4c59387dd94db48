"""tracing.py: exporter selection, the JSON-lines exporter and the origin time in tracestate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from stocksync_common.tracing import (
    JsonLinesExporter,
    OriginSampler,
    extract_context,
    inject_headers,
    make_exporter,
    origin_ms,
)


def provider(exporter: JsonLinesExporter | None = None) -> TracerProvider:
    p = TracerProvider(resource=Resource.create({"service.name": "svc"}), sampler=OriginSampler())
    if exporter is not None:
        p.add_span_processor(SimpleSpanProcessor(exporter))
    return p


def test_exporter_choices(tmp_path: Path) -> None:
    assert make_exporter("none", "svc") is None
    assert make_exporter("", "svc") is None
    assert isinstance(make_exporter("console", "svc"), ConsoleSpanExporter)
    jsonl = make_exporter(f"jsonl:{tmp_path}", "svc")
    assert isinstance(jsonl, JsonLinesExporter) and jsonl.path.parent == tmp_path
    otlp = make_exporter("otlp", "svc", "http://collector:4318/v1/traces")
    assert type(otlp).__name__ == "OTLPSpanExporter"
    with pytest.raises(ValueError, match="unknown exporter"):
        make_exporter("zipkin", "svc")


def test_origin_time_is_stamped_once_and_crosses_kafka_headers(tmp_path: Path) -> None:
    exporter = JsonLinesExporter(tmp_path / "spans.jsonl")
    tracer = provider(exporter).get_tracer("t")
    with tracer.start_as_current_span("webhook") as root:
        first = origin_ms()
        headers = inject_headers()
    assert first is not None and first > 0
    assert dict(headers)["tracestate"] == f"stocksync={first}".encode()

    downstream = provider(exporter).get_tracer("t2")  # another process, later
    with downstream.start_as_current_span("consume", context=extract_context(headers)) as child:
        assert origin_ms() == first, "a later hop keeps the first hop's time"
        assert child.get_span_context().trace_id == root.get_span_context().trace_id

    lines = [json.loads(line) for line in exporter.path.read_text().splitlines()]
    assert [s["name"] for s in lines] == ["webhook", "consume"]
    assert lines[1]["parent_id"] == lines[0]["span_id"]
    assert lines[0]["service"] == "svc" and lines[0]["parent_id"] is None


def test_no_origin_outside_a_trace() -> None:
    assert origin_ms() is None
    assert trace.get_current_span().get_span_context().is_valid is False
