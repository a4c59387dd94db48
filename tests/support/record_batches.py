"""A stand-in for aiokafka's record batches (``AIOKafkaProducer.create_batch``): what a
publisher appended, in order, up to ``capacity`` records (``append`` then returns None, as a
full ``BatchBuilder`` does; the first record always fits)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class FakeBatch:
    capacity: int = 1_000_000
    records: list[tuple[bytes | None, bytes | None, Sequence[tuple[str, bytes]]]] = field(
        default_factory=list
    )

    def append(
        self,
        *,
        timestamp: int | None,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> object | None:
        if self.records and len(self.records) >= self.capacity:
            return None
        self.records.append((key, value, headers))
        return object()
