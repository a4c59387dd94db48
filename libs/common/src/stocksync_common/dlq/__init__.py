"""The dead-letter record: its JSON shape, its id, and reading one back.

A DLQ record's value is JSON: ``original_topic``, ``partition``, ``offset``, ``key``,
``headers`` (dict), ``group``, ``error``, ``reason``, ``stack`` (the last frames),
``attempts``, ``failed_at`` (epoch ms), ``correlation_id`` and ``value`` (the original value as
text; ``value_b64`` too when it is not UTF-8). Its id is ``<dlq topic>:<partition>:<offset>``.
Older writers (and other services' own dead letters) used seconds for ``failed_at`` and left
fields out; reading normalises them.

The package's other modules: ``admin`` (reading, replaying and purging DLQ records), ``api``
(the ``/admin/dlq`` HTTP API), ``auto`` (the automatic replayer), ``cli`` (``stocksync-dlq``)
and ``redaction`` (compliance erasures applied to what a DLQ still holds).
"""

from __future__ import annotations

import base64
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from stocksync_common.dlq.redaction import REDACTED_UNREADABLE, redacted, subjects_of_record
from stocksync_common.pii import masked_headers, masked_text
from stocksync_common.retry import OURS, Origin

DLQ_MARK = ".dlq."
STATUSES = ("pending", "replayed", "all")


def record_id(topic: str, partition: int, offset: int) -> str:
    return f"{topic}:{partition}:{offset}"


def parse_record_id(rid: str) -> tuple[str, int, int]:
    """``<topic>:<partition>:<offset>``; ValueError when it is not one."""
    topic, partition, offset = rid.rsplit(":", 2)
    if DLQ_MARK not in topic:
        raise ValueError(f"not a DLQ topic: {topic}")
    return topic, int(partition), int(offset)


def split_dlq_topic(topic: str) -> tuple[str, str]:
    """``(original topic, group)`` of ``<original>.dlq.<group>``."""
    original, mark, group = topic.rpartition(DLQ_MARK)
    if not mark or not group:
        raise ValueError(f"not a DLQ topic: {topic}")
    return original, group


def _text(raw: bytes | None) -> tuple[str, str | None]:
    """The value as text, and base64 when the bytes are not UTF-8 (kept exactly)."""
    data = raw or b""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace"), base64.b64encode(data).decode()


def _correlation(headers: Mapping[str, str], value: str) -> str | None:
    if headers.get("correlation-id"):
        return headers["correlation-id"]
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    cid = parsed.get("correlation_id") if isinstance(parsed, dict) else None
    return cid if isinstance(cid, str) else None


def dead_letter_body(
    origin: Origin,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]],
    *,
    group: str,
    exc: BaseException,
    attempts: int,
    reason: str,
    failed_at_ms: int,
) -> dict[str, Any]:
    text, b64 = _text(value)
    kept = {k: v.decode("utf-8", "replace") for k, v in headers if k not in OURS}
    body: dict[str, Any] = {
        "original_topic": origin.topic,
        "partition": origin.partition,
        "offset": origin.offset,
        "key": key.decode("utf-8", "replace") if key is not None else None,
        "headers": kept,
        "group": group,
        "error": f"{type(exc).__name__}: {exc}"[:4000],
        "reason": reason,
        "stack": [line.rstrip() for line in traceback.format_exception(exc)[-3:]],
        "attempts": attempts,
        "failed_at": failed_at_ms,
        "correlation_id": _correlation(kept, text),
        "value": text,
    }
    if b64 is not None:
        body["value_b64"] = b64
    return body


# Reasons whose records fail the same way whenever they are sent again, and why.
NEVER_REPLAYABLE: dict[str, str] = {
    "invalid_body": "the webhook body was refused at the edge (not JSON, or not its topic's "
    "shape): sent again it is refused again",
    "schema": "the record is not a valid event: sent again it fails to parse again",
    "unreadable": "the DLQ record itself cannot be read",
}


@dataclass(frozen=True)
class DlqRecord:
    """One record read back from a DLQ topic, with its replay status."""

    topic: str
    partition: int
    offset: int
    body: dict[str, Any]
    status: str = "pending"

    @property
    def id(self) -> str:
        return record_id(self.topic, self.partition, self.offset)

    @property
    def reason(self) -> str:
        return str(self.body.get("reason") or "")

    @property
    def replay_refusal(self) -> str | None:
        """Why replaying this record cannot succeed (None: it may). Its bytes are sent again
        as they are, so bytes that could not be read the first time fail again: the replay
        would only make a new dead letter."""
        if self.body.get("value_withheld"):
            return REDACTED_UNREADABLE
        kind = self.reason.split(":", 1)[0]
        return NEVER_REPLAYABLE.get(kind)

    @classmethod
    def parse(cls, topic: str, partition: int, offset: int, raw: bytes | None) -> DlqRecord:
        try:
            body = orjson.loads(raw or b"{}")
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            text, b64 = _text(raw)
            body = {"error": "unreadable DLQ record", "reason": "unreadable", "value": text}
            if b64:
                body["value_b64"] = b64
        failed = body.get("failed_at")
        # Seconds (older writers) become ms: anything before 1973 in ms is really seconds.
        if isinstance(failed, int | float) and failed < 1e11:
            body["failed_at"] = int(failed * 1000)
        if not body.get("correlation_id"):
            body["correlation_id"] = _correlation(body.get("headers") or {}, body.get("value", ""))
        return cls(topic, partition, offset, body)

    def with_status(self, status: str) -> DlqRecord:
        return DlqRecord(self.topic, self.partition, self.offset, self.body, status)

    def redacted_if(self, erased: frozenset[str]) -> DlqRecord:
        """This record, read with its customer data removed when it names a subject of the
        redaction list ``erased`` (:mod:`stocksync_common.dlq.redaction`)."""
        if not erased or erased.isdisjoint(subjects_of_record(self.body)):
            return self
        return DlqRecord(self.topic, self.partition, self.offset, redacted(self.body), self.status)

    def summary(self) -> dict[str, Any]:
        b = self.body
        return {
            "id": self.id,
            "topic": self.topic,
            "original_topic": b.get("original_topic"),
            "partition": b.get("partition"),
            "offset": b.get("offset"),
            "key": b.get("key"),
            "reason": b.get("reason"),
            "error": b.get("error"),
            "attempts": b.get("attempts"),
            "failed_at": b.get("failed_at"),
            "correlation_id": b.get("correlation_id"),
            "status": self.status,
            "replayable": self.replay_refusal is None,
            # a customer or shop it names was erased: read (and replayed) without their data
            "redacted": bool(b.get("redacted")),
        }

    def full(self) -> dict[str, Any]:
        extra = {k: v for k, v in self.body.items() if k not in self.summary()}
        extra.setdefault("headers", {})
        extra.setdefault("value", "")
        extra.setdefault("stack", [])
        return {**self.summary(), **extra}

    def original_value(self) -> bytes:
        b64 = self.body.get("value_b64")
        if isinstance(b64, str):
            return base64.b64decode(b64)
        return str(self.body.get("value") or "").encode()


def masked_view(doc: dict[str, Any]) -> dict[str, Any]:
    """A record's summary or full view (:meth:`DlqRecord.summary`, :meth:`DlqRecord.full`) as
    a non-admin sees it (#22): customer data masked in the value (field by field when it is
    JSON, withheld whole when it is not, and the raw bytes' base64 always), the headers, the
    error and the stack (:mod:`stocksync_common.pii`). Replay still sends the record as it
    is: masking changes what is shown, never what is kept."""
    out = {**doc, "masked": True}
    if isinstance(doc.get("error"), str):
        out["error"] = masked_text(doc["error"], withhold=False)
    if isinstance(doc.get("stack"), list):
        out["stack"] = [masked_text(str(line), withhold=False) for line in doc["stack"]]
    if isinstance(doc.get("headers"), dict):
        out["headers"] = masked_headers({str(k): str(v) for k, v in doc["headers"].items()})
    if isinstance(doc.get("value"), str):
        out["value"] = masked_text(doc["value"])
    if "value_b64" in doc:
        out["value_b64"] = "[withheld: admins see the raw bytes]"
    return out
