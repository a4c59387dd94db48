"""Every StockSync producer (``make_producer``: the services', through ``producer_from``)
waits for all in-sync replicas and is idempotent: on a cluster, ``min.insync.replicas=2``
protects only an acks=all write, and a retry after a lost acknowledgement (a leader that
died mid-request, tests/cluster) must not write the record twice (#24)."""

from __future__ import annotations

from stocksync_common.kafka import make_producer, producer_from
from stocksync_common.settings import CommonSettings


async def test_producers_wait_for_all_in_sync_replicas_and_are_idempotent() -> None:
    settings = CommonSettings(kafka_bootstrap_servers="127.0.0.1:1,127.0.0.1:2,127.0.0.1:3")
    for producer in (make_producer("127.0.0.1:1", "t"), producer_from(settings)):
        try:
            assert producer._sender._acks == -1  # "all", as aiokafka keeps it
            assert producer._txn_manager is not None  # idempotence on
        finally:
            await producer.stop()  # built, never started
