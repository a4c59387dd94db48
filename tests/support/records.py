"""Consumed records for handler tests: the fields of an aiokafka ``ConsumerRecord`` that the
consumer loop and the handlers read, and a batch of events as the loop hands it over."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stocksync_common.consumer import Incoming
from stocksync_common.events import Event, encode


@dataclass
class Record:
    topic: str
    partition: int = 0
    offset: int = 0
    timestamp: int = 0
    key: bytes | None = None
    value: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = ()


def incoming(topic: str, events: Sequence[Event]) -> list[Incoming]:
    """``events`` as one partition's batch: offsets 0, 1, ... and each event's encoding."""
    return [Incoming(Record(topic, offset=n, value=encode(e)), e) for n, e in enumerate(events)]
