"""The ceiling: a bare consume -> apply -> produce loop on the same broker and Redis.

    uv run python -m bench.ceiling --bootstrap HOST:PORT --redis-url URL --prefix NAME
        (started by ``bench.knee``, which creates its topics, feeds it and stops it)

Issue #19 measures the system's knee against what the machine can do at all: one process,
one aiokafka consumer on a 12-partition topic (``max_poll_records`` 2000), and per polled
batch (every partition it brought, together):

1. one pipelined round trip of ``EVALSHA`` calls, one per command, of a small Lua script
   (``APPLY``) that claims the command's idempotency key with ``SET NX``, checks and moves
   the SKU's counters, bumps its version, appends a ledger entry and records the consumed
   offset: what the adjuster's script does, without its policies;
2. two records per command (a change and a levels record, hand-encoded JSON), produced with
   acks=all and idempotence to topics of its own, every send started at once and the
   acknowledgements gathered once per batch (each key's partition hashed once, as the
   adjuster does);
3. one offset commit per batch, after the acknowledgements.

Nothing else: no envelope validation, retries, DLQ, tracing or metrics. Its topics
(``<prefix>.commands``/``.changed``/``.levels``), consumer group (``<prefix>``) and Redis keys
(``<prefix>:...``) are fresh per run, so it never touches the system's data; the bench
deletes them afterwards. The bench reads what it applied from the group's committed
offsets, and checks the counters in Redis once it drained.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import select
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import TopicPartition
from redis.asyncio import Redis

from stocksync_common.kafka import env_security
from stocksync_common.transport import kafka_options

PARTITIONS = 12
IDEMPOTENCY_TTL_S = 3600
LEDGER_LEN = 100

# KEYS: 1 counters hash, 2 idempotency key, 3 ledger stream, 4 consumed offsets hash
# ARGV: 1 command, 2 quantity, 3 idempotency key, 4 "<topic>:<partition>", 5 offset,
#       6 idempotency ttl (s), 7 ledger length
APPLY = """
local function record_offset()
  local off = tonumber(ARGV[5])
  if off > tonumber(redis.call('HGET', KEYS[4], ARGV[4]) or '-1') then
    redis.call('HSET', KEYS[4], ARGV[4], off)
  end
end
local on_hand = tonumber(redis.call('HGET', KEYS[1], 'on_hand') or '0')
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[6])) then
  record_offset()
  return {'duplicate', version, on_hand, reserved}
end
local cmd, qty = ARGV[1], tonumber(ARGV[2])
local status = 'applied'
if cmd == 'adjust' then
  on_hand = on_hand + qty
elseif cmd == 'reserve' then
  if on_hand - reserved < qty then status = 'rejected' else reserved = reserved + qty end
elseif cmd == 'release' then
  reserved = math.max(0, reserved - qty)
else
  status = 'invalid'
end
if status == 'applied' then
  redis.call('HSET', KEYS[1], 'on_hand', on_hand, 'reserved', reserved)
  version = redis.call('HINCRBY', KEYS[1], 'version', 1)
end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', tonumber(ARGV[7]), '*', 'command', cmd,
  'key', ARGV[3], 'quantity', qty, 'status', status, 'version', version)
record_offset()
return {status, version, on_hand, reserved}
"""
SHA = hashlib.sha1(APPLY.encode()).hexdigest()  # noqa: S324 - Redis' script id


@dataclass(frozen=True)
class Names:
    """A run's topics, group and Redis key prefix, all derived from ``prefix``."""

    prefix: str

    @property
    def commands(self) -> str:
        return f"{self.prefix}.commands"

    @property
    def changed(self) -> str:
        return f"{self.prefix}.changed"

    @property
    def levels(self) -> str:
        return f"{self.prefix}.levels"

    @property
    def group(self) -> str:
        return self.prefix

    def topics(self) -> list[str]:
        return [self.commands, self.changed, self.levels]

    def counters(self, sku: str) -> str:
        return f"{self.prefix}:{{{sku}}}"

    def script_keys(self, sku: str, idempotency_key: str) -> list[str]:
        return [
            self.counters(sku),
            f"{self.prefix}:{{{sku}}}:idem:{idempotency_key}",
            f"{self.prefix}:{{{sku}}}:ledger",
            f"{self.prefix}:offsets",
        ]


@lru_cache(maxsize=65_536)
def partition(key: bytes, partitions: int) -> int:
    """The default partitioner's partition of ``key``, hashed once per key."""
    every = list(range(partitions))
    return int(DefaultPartitioner()(key, every, every))


class Loop:
    """The loop itself; :meth:`handle` is one polled batch, :meth:`run` polls until stopped."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        redis: Redis,
        names: Names,
        partitions: int = PARTITIONS,  # of its output topics
    ) -> None:
        self.consumer, self.producer, self.redis, self.names = consumer, producer, redis, names
        self.partitions = partitions

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batch = await self.consumer.getmany(timeout_ms=100)
            if batch:
                await self.handle(batch)

    async def handle(self, batch: dict[TopicPartition, list[Any]]) -> None:
        commands, pipe = [], self.redis.pipeline(transaction=False)
        for tp, records in batch.items():
            where = f"{tp.topic}:{tp.partition}"
            for record in records:
                cmd = orjson.loads(record.value)["payload"]
                keys = self.names.script_keys(cmd["sku"], cmd["idempotency_key"])
                args = [cmd["command"], cmd["quantity"], cmd["idempotency_key"], where,
                        record.offset, IDEMPOTENCY_TTL_S, LEDGER_LEN]  # fmt: skip
                pipe.evalsha(SHA, len(keys), *keys, *args)
                commands.append(cmd)
        results = await pipe.execute()
        sends = []
        for cmd, (status, version, on_hand, reserved) in zip(commands, results, strict=True):
            key = cmd["sku"].encode()
            change = {"sku": cmd["sku"], "location": cmd["location"], "command": cmd["command"],
                      "idempotency_key": cmd["idempotency_key"], "status": status,
                      "version": version, "on_hand": on_hand, "reserved": reserved}  # fmt: skip
            levels = {"sku": cmd["sku"], "version": version, "on_hand": on_hand,
                      "reserved": reserved, "available": on_hand - reserved}  # fmt: skip
            p = partition(key, self.partitions)
            sends.append(self._send(self.names.changed, key, orjson.dumps(change), p))
            sends.append(self._send(self.names.levels, key, orjson.dumps(levels), p))
        acks = await asyncio.gather(*sends)  # every record buffered, none awaited alone
        await asyncio.gather(*acks)  # then every acknowledgement, once per batch
        await self.consumer.commit({tp: records[-1].offset + 1 for tp, records in batch.items()})

    async def _send(self, topic: str, key: bytes, value: bytes, p: int) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = await self.producer.send(topic, value, key=key, partition=p)
        return fut


class _Assigned(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def on_partitions_revoked(self, revoked: object) -> None:  # noqa: ARG002
        pass

    async def on_partitions_assigned(self, assigned: object) -> None:  # noqa: ARG002
        self.event.set()


async def serve(bootstrap: str, redis_url: str, names: Names, out: IO[str]) -> None:
    """Run the loop until SIGTERM or SIGINT; ``ready`` on ``out`` once it owns partitions."""
    redis = Redis.from_url(redis_url, decode_responses=True)  # the script's status as str
    await redis.script_load(APPLY)
    security = kafka_options(env_security())
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=names.group,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                max_poll_records=2000, fetch_max_wait_ms=10,
                                **security)  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True,
                                acks="all", linger_ms=0, max_batch_size=256 * 1024,
                                **security)  # fmt: skip
    assigned, stop = _Assigned(), asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await producer.start()
    await consumer.start()
    try:
        consumer.subscribe([names.commands], listener=assigned)
        outputs = {len(await producer.partitions_for(t)) for t in (names.changed, names.levels)}
        if len(outputs) != 1:
            raise ValueError(f"{names.changed} and {names.levels} differ in partitions")
        loop = Loop(consumer, producer, redis, names, outputs.pop())
        polling = asyncio.ensure_future(loop.run(stop))
        await asyncio.wait([polling, asyncio.ensure_future(assigned.event.wait())],
                           return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        print("ready", file=out, flush=True)  # noqa: T201 - the bench waits for this line
        await polling
    finally:
        await consumer.stop()
        await producer.stop()
        await redis.aclose()


# --- what bench.knee uses to run it --------------------------------------------------------


async def create_topics(
    bootstrap: str, topics: Sequence[str], partitions: int = PARTITIONS
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_options(env_security()))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, partitions, 1) for t in topics])
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, topics: Sequence[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_options(env_security()))
    await admin.start()
    try:
        await admin.delete_topics(list(topics))
    finally:
        await admin.close()


async def committed(bootstrap: str, names: Names) -> int:
    """Commands the loop applied and committed (its group's offsets, summed)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_options(env_security()))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(names.group)
        return sum(o.offset for tp, o in offsets.items() if tp.topic == names.commands)
    finally:
        await admin.close()


async def on_hand(redis: Redis, names: Names, skus: Sequence[str]) -> int:
    """Units the loop added over ``skus`` (each ``adjust`` +1: the commands applied once)."""
    pipe = redis.pipeline(transaction=False)
    for sku in skus:
        pipe.hget(names.counters(sku), "on_hand")
    return sum(int(v or 0) for v in await pipe.execute())


async def drop_keys(redis: Redis, names: Names) -> int:
    keys = [k async for k in redis.scan_iter(f"{names.prefix}:*", count=1000)]
    for i in range(0, len(keys), 1000):
        await redis.delete(*keys[i : i + 1000])
    return len(keys)


def start(bootstrap: str, redis_url: str, names: Names, log: Path, timeout_s: float = 90) -> Any:
    """The loop as a process of its own, returned once it owns its partitions."""
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "bench.ceiling", "--bootstrap", bootstrap,
           "--redis-url", redis_url, "--prefix", names.prefix]  # fmt: skip
    root = Path(__file__).resolve().parents[1]
    with log.open("ab") as err:
        proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=err, text=True)  # noqa: S603
    deadline, out = time.monotonic() + timeout_s, proc.stdout
    while out is not None and (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([out], [], [], left)
        line = out.readline() if readable else ""
        if line.strip() == "ready":
            return proc
        if not line and proc.poll() is not None:
            break
    stop(proc)
    raise RuntimeError(f"the ceiling loop did not start (see {log})")


def stop(proc: Any, timeout_s: float = 30) -> None:
    """SIGTERM (the loop finishes its batch and closes its clients), then SIGKILL."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if proc.stdout is not None:
        proc.stdout.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.ceiling", description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--redis-url", required=True)
    p.add_argument("--prefix", required=True, help="names of its topics, group and keys")
    args = p.parse_args(argv)
    asyncio.run(serve(args.bootstrap, args.redis_url, Names(args.prefix), sys.stdout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
