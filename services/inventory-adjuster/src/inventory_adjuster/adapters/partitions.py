"""The partition of a record's key, hashed once per key rather than once per record.

aiokafka's default partitioner hashes every record's key with a pure-Python murmur2 (a
visible slice of the adjuster's samples, docs/profiling.md). A SKU's partition changes only
when its topic's partition count does, so the adjuster asks the same partitioner once per
(key, partition count) and passes ``partition=`` explicitly: a SKU's records land where
aiokafka would have put them, and their order per partition is unchanged
(docs/decisions/0014-adjuster-hot-path.md).

Kafka numbers a topic's partitions 0..n-1 (partitions are only ever added at the end), so
the partition count is all the partitioner needs to know about the topic. The cache is
bounded: past ``MAX_KEYS`` keys the least recently used are hashed again when they return.
"""

from __future__ import annotations

from functools import lru_cache

from aiokafka.partitioner import DefaultPartitioner

MAX_KEYS = 65_536  # about 13 MB at most; a bigger catalog pays the hash for its cold SKUs

_DEFAULT = DefaultPartitioner()


@lru_cache(maxsize=MAX_KEYS)
def partition_of(key: bytes, partitions: int) -> int:
    """The partition aiokafka's ``DefaultPartitioner`` picks for ``key`` on a topic of
    ``partitions`` partitions (numbered 0..partitions-1)."""
    every = list(range(partitions))
    return int(_DEFAULT(key, every, every))
