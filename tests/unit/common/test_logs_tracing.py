import logging

import orjson
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from stocksync_common.logs import JsonFormatter, correlation
from stocksync_common.tracing import extract_context, inject_headers


def test_json_log_line_carries_correlation_id():
    fmt = JsonFormatter("svc")
    record = logging.makeLogRecord({"msg": "hello %s", "args": ("x",), "levelname": "INFO"})
    with correlation("corr-1"):
        line = orjson.loads(fmt.format(record))
    assert line["msg"] == "hello x"
    assert line["correlation_id"] == "corr-1"
    assert line["service"] == "svc"


def test_traceparent_round_trips_through_kafka_headers():
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("producer") as span:
        headers = inject_headers()
        trace_id = span.get_span_context().trace_id
    assert any(k == "traceparent" for k, _ in headers)
    ctx = extract_context(headers)
    assert trace.get_current_span(ctx).get_span_context().trace_id == trace_id


def test_an_extra_never_overwrites_the_lines_own_fields():
    fmt = JsonFormatter("ops-console")
    record = logging.makeLogRecord(
        {"msg": "audit: dlq replay", "levelname": "INFO", "service": "webhook-receiver", "who": "x"}
    )
    line = orjson.loads(fmt.format(record))
    assert line["service"] == "ops-console"  # the service that wrote the line
    assert line["extra_service"] == "webhook-receiver" and line["who"] == "x"
