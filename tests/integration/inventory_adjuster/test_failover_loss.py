"""What a Redis failover lost, found per SKU and rebuilt from Kafka alone (ADR 0029).

Commands go through the real handler (which publishes the levels records) on the real broker
and Redis (a Redis Cluster when the URL says so). Then the keys of one hash slot are rolled
back to a snapshot taken earlier, as a promoted asynchronous replica would hold them: its
master had acknowledged the later writes, the replica never got them. The adjuster then
applies more commands to one of those SKUs on the incomplete state, as it does once the
replica serves. Detection must name exactly that slot's SKUs, also one that lost a single
write masked by the next command's equal version. The rebuild of those SKUs must bring back
their levels, versions, idempotency keys and ledgers, and apply once every command Kafka
holds beyond the last one Redis kept, the lost ones and those applied since included. Every
other key stays as it was.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.structs import ConsumerRecord
from redis.asyncio import Redis

from inventory_adjuster.adapters.kits import KitStore, component_key
from inventory_adjuster.adapters.redis_store import (
    Applied,
    Position,
    RedisInventory,
    idem_key,
    ledger_key,
    offsets_key,
    state_key,
    waiting_key,
)
from inventory_adjuster.handlers import CommandHandler
from inventory_adjuster.rebuild import (
    RebuildError,
    _Plan,
    detect_lost,
    main,
    read_to_end,
    sku_slot,
)
from stocksync_common.events import InventoryCommandRequested, OrderLineRef
from stocksync_common.kafka import make_producer, publish_event
from support.infra import REDIS
from support.rebuild_topics import LOC, Topics, command, db5, handle_all, rebuild_from

pytestmark = pytest.mark.integration


def reserve(run: str, sku: str, n: int) -> InventoryCommandRequested:
    """One unit of ``sku`` reserved for order ``<run>-<n>`` (its line 1)."""
    ref = OrderLineRef(shop="shop-1.myshopify.com", order_id=f"{run}-{n}", line_id="1")
    return command(sku, "reserve", 1, f"{sku}:order-{n}", order=ref)


def in_one_slot(prefix: str, n: int) -> list[str]:
    """``n`` SKU names whose keys share one hash slot."""
    names = [f"{prefix}-0"]
    slot, i = sku_slot(names[0]), 1
    while len(names) < n:
        if sku_slot(name := f"{prefix}-{i}") == slot:
            names.append(name)
        i += 1
    return names


def keys_of(sku: str, events: list[InventoryCommandRequested]) -> list[str]:
    """Every key the commands on ``sku`` can have written."""
    own = [e.payload.idempotency_key for e in events if e.payload.sku == sku]
    return [state_key(sku), ledger_key(sku), waiting_key(sku), *(idem_key(sku, k) for k in own)]


async def snapshot(redis: Redis, keys: list[str]) -> dict[str, bytes | None]:
    return {k: await redis.dump(k) for k in keys}


async def roll_back(redis: Redis, snap: dict[str, bytes | None]) -> None:
    """Put the keys back as they were at ``snap`` (the ones created since: gone)."""
    for key, dumped in snap.items():
        await redis.delete(key)
        if dumped is not None:
            await redis.restore(key, 0, dumped, replace=True)


async def produce(producer, topic: str, events: list[InventoryCommandRequested]) -> None:
    for event in events:
        await publish_event(producer, topic, event.payload.sku, event, timeout_s=10)


async def test_a_slot_rolled_back_is_found_and_rebuilt_alone(
    kafka_bootstrap: str, redis5: Redis, handler_topics: Topics
) -> None:
    topics3 = handler_topics
    run = uuid.uuid4().hex[:8]
    lost = in_one_slot(f"FO-lost-{run}", 2)
    others = [s for s in (f"FO-{x}-{run}" for x in "abcdef") if sku_slot(s) != sku_slot(lost[0])]
    skus = [*lost, *others[:4]]
    group = f"it-failover-{run}"
    store = RedisInventory(redis5, group, idem_ttl_s=3600, ledger_max_len=1000)
    producer = make_producer(kafka_bootstrap, "it-failover")
    await producer.start()
    handler = CommandHandler(store, producer)

    order = functools.partial(reserve, run)

    try:
        early = [command(s, "set_on_hand", 10, f"{s}:count") for s in skus]
        early += [order(s, 1) for s in skus]
        await produce(producer, topics3.commands, early)
        await handle_all(kafka_bootstrap, topics3.commands, handler)
        every = [*early]
        late = [order(s, 2) for s in skus] + [command(s, "adjust", 3, f"{s}:in") for s in skus]
        every += late
        snap = await snapshot(redis5, [k for s in lost for k in keys_of(s, every)])
        await produce(producer, topics3.commands, late)
        await handle_all(kafka_bootstrap, topics3.commands, handler)
        truth = {s: await store.levels(s) for s in skus}
        # produced, not consumed yet: a lost SKU's is the rebuild's, another's the adjuster's
        tail = [command(lost[0], "adjust", 5, f"{lost[0]}:tail")]
        tail += [command(others[0], "adjust", 7, f"{others[0]}:tail")]
        await produce(producer, topics3.commands, tail)
        every += tail
        untouched = {
            s: (await redis5.hgetall(state_key(s)), await store.ledger(s)) for s in others[:4]
        }
        offsets = await store.stored_offsets()
        # the rebuild's own store, as the command line builds it (the handler's has offsets
        # still to record at its next apply)
        store = RedisInventory(redis5, group, idem_ttl_s=3600, ledger_max_len=1000)

        await roll_back(redis5, snap)  # the failover
        for s in lost:
            rolled = await store.levels(s)
            assert rolled is not None and truth[s] is not None
            assert rolled.version < truth[s].version  # type: ignore[union-attr]
        # the adjuster goes on, on the promoted replica: two receipts on lost[1], applied on
        # its rolled-back state; their records end at the version truth had (masking it)
        read: dict[int, int] = {}
        await read_to_end(kafka_bootstrap, topics3.commands, lambda rs: read.update(
            {r.partition: max(r.offset, read.get(r.partition, -1)) for r in rs}))  # fmt: skip
        after = [command(lost[1], "adjust", 1, f"{lost[1]}:after-{n}") for n in (1, 2)]
        await produce(producer, topics3.commands, after)
        every += after
        applied = await handle_all(kafka_bootstrap, topics3.commands, handler, after=read)
        assert applied == len(after)  # the tail stays unconsumed: it was read before
        offsets = await store.stored_offsets()
        masked = await store.levels(lost[1])
        assert masked is not None and masked.version == truth[lost[1]].version  # type: ignore[union-attr]

        found = await detect_lost(store, kafka_bootstrap, levels_topic=topics3.levels)
        assert found.checked == len(skus) and found.lost == sorted(lost), found.reasons
        assert found.reasons[lost[1]].startswith("version went back")
        in_slot = await detect_lost(
            store, kafka_bootstrap, levels_topic=topics3.levels, slots={sku_slot(others[0])}
        )
        assert in_slot.checked == 1 and in_slot.lost == []

        report = await rebuild_from(store, kafka_bootstrap, topics3, skus=found.lost)
        assert report.scope == sorted(lost) and report.skus == len(lost)
        # Each is restored from the record of its last command Redis kept (order-1: the keys
        # of the later ones are missing), so the two lost commands of each are applied again
        # (their ledger entries come back with them), then lost[0]'s tail command and
        # lost[1]'s two receipts again, on its restored state
        assert report.rolled_back == sorted(lost)
        assert report.replay_outcomes == {"applied": 2 + 2 + 1 + 2}
        assert await store.stored_offsets() == offsets  # the group's: left as they were

        for s in lost:
            now, was = await store.levels(s), truth[s]
            assert now is not None and was is not None
            extra, moves = (5, 1) if s == lost[0] else (2, 2)
            assert now.version == was.version + moves
            assert now.locations[LOC].on_hand == was.locations[LOC].on_hand + extra
            assert now.locations[LOC].reserved == was.locations[LOC].reserved == 2
            # the lost idempotency keys are back: a late copy of a lost order is a duplicate
            (again,) = await store.apply_many([(order(s, 2).payload, None)])
            assert isinstance(again, Applied) and again.status == "duplicate"
            assert (await store.levels(s)) == now
        for s in others[:4]:  # the rest: not one write (others[0]'s tail is still to apply)
            assert (await redis5.hgetall(state_key(s)), await store.ledger(s)) == untouched[s]
        again_found = await detect_lost(store, kafka_bootstrap, levels_topic=topics3.levels)
        assert again_found.lost == []
        # by slot, and again: the same SKUs, the same levels
        repaired = {s: await store.levels(s) for s in lost}
        by_slot = await rebuild_from(store, kafka_bootstrap, topics3, slots={sku_slot(lost[0])})
        assert by_slot.scope == sorted(lost)
        assert {s: await store.levels(s) for s in lost} == repaired
    finally:
        await producer.stop()


async def entered(store: RedisInventory, sku: str) -> list[tuple[str, str, str]]:
    """The SKU's ledger, oldest first: each entry's key, status and reserved units."""
    return [(e["key"], e["status"], e["d_reserved"]) for e in await store.ledger(sku)]


def ledger_of(events: list[InventoryCommandRequested], sku: str) -> list[tuple[str, str, str]]:
    """What the ledger of ``sku`` holds when each of its commands (all applied: counts,
    receipts, one-unit reserves) is entered once, in topic order."""
    return [
        (e.payload.idempotency_key, "applied", "1" if e.payload.command == "reserve" else "0")
        for e in events
        if e.payload.sku == sku
    ]


async def test_one_lost_write_then_an_apply_is_found_and_rebuilt_with_its_ledger(
    kafka_bootstrap: str, redis5: Redis, handler_topics: Topics
) -> None:
    """The loss a version cannot show: one write lost, then one command applied on the
    rolled-back state, whose record carries the lost record's version again (equal, not
    lower) while Redis matches it. The lost command's idempotency key is missing from Redis:
    detection must name the SKU; the repair must bring back its levels, version and key, with
    every command applied once and entered in the ledger once, the lost one included, in
    topic order; a rerun changes nothing and detection then finds nothing."""
    topics3 = handler_topics
    run = uuid.uuid4().hex[:8]
    sku, other = f"FO1-{run}", f"FO1-other-{run}"
    group = f"it-failover-one-{run}"
    store = RedisInventory(redis5, group, idem_ttl_s=3600, ledger_max_len=1000)
    producer = make_producer(kafka_bootstrap, "it-failover")
    await producer.start()
    handler = CommandHandler(store, producer)

    order = functools.partial(reserve, run)

    try:
        early = [command(s, "set_on_hand", 10, f"{s}:count") for s in (sku, other)]
        early += [order(s, 1) for s in (sku, other)]
        await produce(producer, topics3.commands, early)
        await handle_all(kafka_bootstrap, topics3.commands, handler)
        lost = [order(sku, 2)]  # acknowledged by the master, never replicated
        after = [command(sku, "adjust", 1, f"{sku}:after")]  # applied on the promoted replica
        every = [*early, *lost, *after]
        snap = await snapshot(redis5, keys_of(sku, every))
        await produce(producer, topics3.commands, lost)
        await handle_all(kafka_bootstrap, topics3.commands, handler)
        truth = await store.levels(sku)
        assert truth is not None and truth.version == 3
        untouched = (await redis5.hgetall(state_key(other)), await store.ledger(other))

        await roll_back(redis5, snap)  # the failover
        read: dict[int, int] = {}
        await read_to_end(kafka_bootstrap, topics3.commands, lambda rs: read.update(
            {r.partition: max(r.offset, read.get(r.partition, -1)) for r in rs}))  # fmt: skip
        await produce(producer, topics3.commands, after)
        assert await handle_all(kafka_bootstrap, topics3.commands, handler, after=read) == 1
        masked = await store.levels(sku)
        # the version the lost record had, and Redis matches the latest record
        assert masked is not None and masked.version == truth.version
        assert masked.locations[LOC].reserved == 1  # the lost reservation is missing
        offsets = await store.stored_offsets()
        # the rebuild's own store, as the command line builds it
        store = RedisInventory(redis5, group, idem_ttl_s=3600, ledger_max_len=1000)

        found = await detect_lost(store, kafka_bootstrap, levels_topic=topics3.levels)
        assert found.lost == [sku], found.reasons
        assert found.checked == 2 and found.reasons[sku].startswith("write lost"), found

        report = await rebuild_from(store, kafka_bootstrap, topics3, skus=found.lost)
        assert report.scope == [sku] and report.skus == 1
        now = await store.levels(sku)
        assert now is not None
        assert now.version == truth.version + 1  # the lost reserve and the receipt, once each
        assert now.locations[LOC].on_hand == truth.locations[LOC].on_hand + 1 == 11
        assert now.locations[LOC].reserved == truth.locations[LOC].reserved == 2
        assert await entered(store, sku) == ledger_of(every, sku)
        (again,) = await store.apply_many([(lost[0].payload, None)])  # the lost key is back
        assert isinstance(again, Applied) and again.status == "duplicate"
        assert (await redis5.hgetall(state_key(other)), await store.ledger(other)) == untouched
        assert await store.stored_offsets() == offsets

        assert (await detect_lost(store, kafka_bootstrap, levels_topic=topics3.levels)).lost == []
        rerun = await rebuild_from(store, kafka_bootstrap, topics3, skus=[sku])
        assert rerun.scope == [sku]
        assert await store.levels(sku) == now
        assert await entered(store, sku) == ledger_of(every, sku)
    finally:
        await producer.stop()


async def waiting_line(redis: Redis, sku: str) -> list[dict[str, object]]:
    """The SKU's waiting line, oldest first, without each entry's queueing time."""
    out = []
    for raw in await redis.lrange(waiting_key(sku), 0, -1):
        entry = json.loads(raw)
        entry.pop("t", None)
        out.append(entry)
    return out


async def seen_of(redis: Redis, sku: str) -> dict[str, str]:
    """The SKU's ``seen|<location>|<shop>`` counters as stored."""
    state = {text(k): text(v) for k, v in (await redis.hgetall(state_key(sku))).items()}
    return {k: v for k, v in state.items() if k.startswith("seen|")}


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def test_a_lost_refusal_then_an_apply_is_found_and_replayed_with_its_waiting_line(
    kafka_bootstrap: str, redis5: Redis, handler_topics: Topics
) -> None:
    """The loss no version shows: the only lost command was a refused reserve of an order
    line (no version bump; its key, ``seen`` count, waiting line and ledger entry written by
    the script that refused it), then one command applied on the rolled-back state. Its
    record repeats no version and Redis matches the latest record; only the refusal's
    idempotency key, missing from Redis, tells. Detection must name the SKU; the repair must
    bring back the refusal as the original had it (its ``seen`` count, waiting entry and
    ledger entry), each command once, equal to a twin SKU that lost nothing."""
    topics3 = handler_topics
    run = uuid.uuid4().hex[:8]
    sku, twin = f"FO-ref-{run}", f"FO-ref-twin-{run}"
    group = f"it-failover-refused-{run}"
    store = RedisInventory(redis5, group, idem_ttl_s=3600, ledger_max_len=1000)
    producer = make_producer(kafka_bootstrap, "it-failover")
    await producer.start()
    handler = CommandHandler(store, producer)

    order = functools.partial(reserve, run)

    def steps(s: str) -> list[InventoryCommandRequested]:
        """A count of 1, an order reserving it, an order refused, a shrinkage applied."""
        count = command(s, "set_on_hand", 1, f"{s}:count")
        return [count, order(s, 1), order(s, 2), command(s, "adjust", -1, f"{s}:after")]

    try:
        early, lost, after = steps(sku)[:2], steps(sku)[2:3], steps(sku)[3:]
        await produce(producer, topics3.commands, [*early, *steps(twin)])
        await handle_all(kafka_bootstrap, topics3.commands, handler)
        snap = await snapshot(redis5, keys_of(sku, [*early, *lost, *after]))
        await produce(producer, topics3.commands, lost)  # refused: acknowledged, not replicated
        await handle_all(kafka_bootstrap, topics3.commands, handler)
        assert (await store.ledger(sku))[-1]["status"] == "rejected"
        had_seen, had_waiting = await seen_of(redis5, sku), await waiting_line(redis5, sku)
        assert list(had_seen.values()) == ["2"] and [w["key"] for w in had_waiting] == [
            f"{sku}:order-2"
        ]
        untouched = (await redis5.hgetall(state_key(twin)), await store.ledger(twin))

        await roll_back(redis5, snap)  # the failover: the refusal is gone
        read: dict[int, int] = {}
        await read_to_end(kafka_bootstrap, topics3.commands, lambda rs: read.update(
            {r.partition: max(r.offset, read.get(r.partition, -1)) for r in rs}))  # fmt: skip
        await produce(producer, topics3.commands, after)
        assert await handle_all(kafka_bootstrap, topics3.commands, handler, after=read) == 1
        assert await waiting_line(redis5, sku) == [] and list(
            (await seen_of(redis5, sku)).values()
        ) == ["1"]
        store = RedisInventory(redis5, group, idem_ttl_s=3600, ledger_max_len=1000)

        found = await detect_lost(store, kafka_bootstrap, levels_topic=topics3.levels)
        assert found.lost == [sku], found.reasons
        assert found.reasons[sku].startswith("write lost"), found.reasons

        report = await rebuild_from(store, kafka_bootstrap, topics3, skus=found.lost)
        assert report.scope == [sku]
        # the refusal and the shrinkage replayed, once each
        assert report.replay_outcomes == {"rejected": 1, "applied": 1}, report.replay_outcomes
        expected = [(f"{sku}:count", "applied", "0"), (f"{sku}:order-1", "applied", "1")]
        expected += [(f"{sku}:order-2", "rejected", "0"), (f"{sku}:after", "applied", "0")]
        assert await entered(store, sku) == expected
        assert await entered(store, twin) == [(k.replace(sku, twin), s, d) for k, s, d in expected]
        assert await seen_of(redis5, sku) == had_seen == await seen_of(redis5, twin)
        assert await waiting_line(redis5, sku) == had_waiting
        assert [w["key"] for w in await waiting_line(redis5, twin)] == [f"{twin}:order-2"]
        now, twin_now = await store.levels(sku), await store.levels(twin)
        assert now is not None and twin_now is not None
        assert now.version == twin_now.version and now.locations == twin_now.locations
        (again,) = await store.apply_many([(lost[0].payload, None)])  # the refusal's key is back
        assert isinstance(again, Applied) and again.status == "duplicate"
        assert (await redis5.hgetall(state_key(twin)), await store.ledger(twin)) == untouched

        assert (await detect_lost(store, kafka_bootstrap, levels_topic=topics3.levels)).lost == []
        await rebuild_from(store, kafka_bootstrap, topics3, skus=[sku])  # a rerun: no change
        assert await entered(store, sku) == expected
        assert await waiting_line(redis5, sku) == had_waiting
        assert await store.levels(sku) == now
    finally:
        await producer.stop()


async def test_a_repaired_skus_ledger_holds_each_command_once(
    kafka_bootstrap: str, redis5: Redis, handler_topics: Topics
) -> None:
    """After the repair, each SKU's ledger (what the read API's ledger and the fault oracle
    count) holds every command once, in topic order: the lost writes' entries are back, and
    the commands applied on the incomplete state and replayed are not there twice. Two SKUs
    of one slot each lose two writes; one then has two commands applied (its version goes
    back), the other none (its state is behind its record)."""
    topics3 = handler_topics
    run = uuid.uuid4().hex[:8]
    went_back, behind_ = in_one_slot(f"FO-ledger-{run}", 2)
    group = f"it-failover-ledger-{run}"
    store = RedisInventory(redis5, group, idem_ttl_s=3600, ledger_max_len=1000)
    producer = make_producer(kafka_bootstrap, "it-failover")
    await producer.start()
    handler = CommandHandler(store, producer)

    order = functools.partial(reserve, run)

    skus = [went_back, behind_]
    try:
        early = [command(s, "set_on_hand", 10, f"{s}:count") for s in skus]
        early += [order(s, 1) for s in skus]
        await produce(producer, topics3.commands, early)
        await handle_all(kafka_bootstrap, topics3.commands, handler)
        lost = [order(s, 2) for s in skus] + [command(s, "adjust", 3, f"{s}:in") for s in skus]
        after = [command(went_back, "adjust", 1, f"{went_back}:after-{n}") for n in (1, 2)]
        every = [*early, *lost, *after]
        snap = await snapshot(redis5, [k for s in skus for k in keys_of(s, every)])
        await produce(producer, topics3.commands, lost)
        await handle_all(kafka_bootstrap, topics3.commands, handler)
        await roll_back(redis5, snap)
        read: dict[int, int] = {}
        await read_to_end(kafka_bootstrap, topics3.commands, lambda rs: read.update(
            {r.partition: max(r.offset, read.get(r.partition, -1)) for r in rs}))  # fmt: skip
        await produce(producer, topics3.commands, after)
        assert await handle_all(kafka_bootstrap, topics3.commands, handler, after=read) == 2
        store = RedisInventory(redis5, group, idem_ttl_s=3600, ledger_max_len=1000)

        found = await detect_lost(store, kafka_bootstrap, levels_topic=topics3.levels)
        assert found.lost == sorted(skus), found.reasons
        await rebuild_from(store, kafka_bootstrap, topics3, skus=found.lost)
        for s in skus:
            assert await entered(store, s) == ledger_of(every, s), s
        levels = {s: await store.levels(s) for s in skus}
        await rebuild_from(store, kafka_bootstrap, topics3, skus=skus)  # a rerun
        for s in skus:
            assert await entered(store, s) == ledger_of(every, s), s
            assert await store.levels(s) == levels[s]
    finally:
        await producer.stop()


HOUR_MS = 3600 * 1000


async def aged_copy(
    kafka: str, producer, source: str, target: str, old: dict[str, int], age_ms: int
) -> None:
    """Copy ``source``'s levels records into ``target`` in order, the first ``old[sku]`` of
    each SKU with a CreateTime ``age_ms`` in the past (the rest: now), as if published then."""
    records: list[ConsumerRecord[bytes, bytes]] = []
    await read_to_end(kafka, source, records.extend)
    records.sort(key=lambda r: (r.partition, r.offset))
    taken: dict[str, int] = {}
    now = int(time.time() * 1000)
    for r in records:
        sku = r.key.decode()
        n = taken[sku] = taken.get(sku, 0) + 1
        stamp = now - age_ms if n <= old.get(sku, 0) else now
        await producer.send_and_wait(
            target, r.value, key=r.key, headers=list(r.headers), timestamp_ms=stamp
        )


async def retention_of(admin: AIOKafkaAdminClient, topic: ConfigResource) -> str | None:
    (described,) = await admin.describe_configs([topic])
    values = [e[1] for e in described.resources[0][4] if e[0] == "retention.ms"]
    return values[0] if values else None


async def test_a_record_older_than_the_commands_retention_is_no_false_alarm(
    kafka_bootstrap: str, redis5: Redis, handler_topics: Topics
) -> None:
    """A full rebuild re-marks the keys of the commands the commands topic still holds. A
    levels record older than that topic's retention, but younger than 90% of the key TTL, has
    a key nobody re-marked once its command was deleted: detection must not call it lost
    while a later record follows it, and the repair's walk back must stop there too (its
    command could not be replayed). Here the commands topic keeps an hour, the keys 30 days;
    the records of each SKU's count and first order are three hours old."""
    topics3 = handler_topics
    run = uuid.uuid4().hex[:8]
    old_only, also_new = f"FO-aged-{run}", f"FO-aged-new-{run}"
    group = f"it-failover-aged-{run}"
    ttl_s = 30 * 24 * 3600
    store = RedisInventory(redis5, group, idem_ttl_s=ttl_s, ledger_max_len=1000)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    aged = Topics(topics3.commands, f"it-rebuild-{run}.aged-levels", topics3.changed)
    await admin.create_topics(
        [NewTopic(aged.levels, 3, 1, topic_configs={"cleanup.policy": "compact"})]
    )
    resource = ConfigResource(ConfigResourceType.TOPIC, topics3.commands)
    await admin.alter_configs([ConfigResource(
        ConfigResourceType.TOPIC, topics3.commands, {"retention.ms": str(HOUR_MS)})])  # fmt: skip
    producer = make_producer(kafka_bootstrap, "it-failover")
    await producer.start()
    handler = CommandHandler(store, producer)
    order = functools.partial(reserve, run)
    skus = [old_only, also_new]
    try:
        deadline = time.monotonic() + 10  # the broker applies the change it acknowledged
        while await retention_of(admin, resource) != str(HOUR_MS):
            assert time.monotonic() < deadline, await retention_of(admin, resource)
            await asyncio.sleep(0.1)
        every = [command(s, "set_on_hand", 10, f"{s}:count") for s in skus]
        every += [order(s, n) for s in skus for n in (1, 2)]
        await produce(producer, topics3.commands, every)
        await handle_all(kafka_bootstrap, topics3.commands, handler)
        await aged_copy(
            kafka_bootstrap,
            producer,
            topics3.levels,
            aged.levels,
            dict.fromkeys(skus, 2),
            3 * HOUR_MS,
        )
        truth = await store.levels(also_new)
        # a full rebuild could not re-mark the first order's key: its command was deleted
        for s in skus:
            await redis5.delete(idem_key(s, f"{s}:order-1"))
        # and the second order of one SKU is a write a failover lost (its key alone, here)
        await redis5.delete(idem_key(also_new, f"{also_new}:order-2"))

        found = await detect_lost(
            store, kafka_bootstrap, levels_topic=aged.levels, commands_topic=aged.commands
        )
        assert found.lost == [also_new], found.reasons
        assert f"({also_new}:order-2," in found.reasons[also_new]

        report = await rebuild_from(store, kafka_bootstrap, aged, skus=found.lost)
        # restored from the first order's record (older than the commands' retention: trusted
        # as it is), the lost second order replayed; not the first one too
        assert report.rolled_back == [also_new] and report.commands_replayed == 1, report
        assert await store.levels(also_new) == truth
        assert await redis5.exists(idem_key(also_new, f"{also_new}:order-2"))
    finally:
        await producer.stop()
        await admin.delete_topics([aged.levels])
        await admin.close()


async def test_a_lost_kit_component_write_then_an_apply_is_found_and_repaired(
    kafka_bootstrap: str, redis5: Redis, handler_topics: Topics
) -> None:
    """A kit reserve moves its components; the levels record published for a component after
    it carries the component's key of the kit command (``<kit key>:component:<sku>``, written
    by the script that moved it). The component's slot then loses that write, and a receipt is
    applied on it, which brings its version back to the lost one. Detection must name the
    component; the repair, once the kit and its other component are added to it (a kit command
    to replay moves them all), must apply the kit command's share and the receipt once each:
    the component's levels and ledger as if nothing was lost, the other component and the
    kit unmoved."""
    topics3 = handler_topics
    run = uuid.uuid4().hex[:8]
    comp, other, kit = f"FO-kc-{run}", f"FO-kc2-{run}", f"FO-kit-{run}"
    group = f"it-failover-kit-{run}"
    store = RedisInventory(redis5, group, idem_ttl_s=3600, ledger_max_len=1000)
    kits = KitStore(redis5, group, idem_ttl_s=3600, ledger_max_len=1000)
    producer = make_producer(kafka_bootstrap, "it-failover")
    await producer.start()
    handler = CommandHandler(store, producer, kits)
    try:
        early = [command(s, "set_on_hand", 10, f"{s}:count") for s in (comp, other)]
        early.append(command(kit, "configure", 0, f"{kit}:define",
                             config={"kit_components": {comp: 1, other: 2}}))  # fmt: skip
        await produce(producer, topics3.commands, early)
        await handle_all(kafka_bootstrap, topics3.commands, handler)
        lost = [reserve(run, kit, 1)]  # moves both components; the first one's write is lost
        share = component_key(lost[0].payload.idempotency_key, comp)
        after = [command(comp, "adjust", 1, f"{comp}:after")]
        snap = await snapshot(redis5, [*keys_of(comp, [*early, *after]), idem_key(comp, share)])
        await produce(producer, topics3.commands, lost)
        await handle_all(kafka_bootstrap, topics3.commands, handler)
        truth = await store.levels(comp)
        assert truth is not None and truth.locations[LOC].reserved == 1
        moved = {s: await store.levels(s) for s in (other, kit)}

        await roll_back(redis5, snap)  # the failover of the component's slot
        read: dict[int, int] = {}
        await read_to_end(kafka_bootstrap, topics3.commands, lambda rs: read.update(
            {r.partition: max(r.offset, read.get(r.partition, -1)) for r in rs}))  # fmt: skip
        await produce(producer, topics3.commands, after)
        assert await handle_all(kafka_bootstrap, topics3.commands, handler, after=read) == 1
        masked = await store.levels(comp)
        assert masked is not None and masked.version == truth.version  # the lost one's again
        assert masked.locations[LOC].reserved == 0

        found = await detect_lost(store, kafka_bootstrap, levels_topic=topics3.levels,
                                  commands_topic=topics3.commands)  # fmt: skip
        assert found.lost == [comp], found.reasons
        assert share in found.reasons[comp]

        with pytest.raises(RebuildError, match="must be replayed"):
            await rebuild_from(store, kafka_bootstrap, topics3, skus=found.lost)
        report = await rebuild_from(store, kafka_bootstrap, topics3, skus=[comp, other, kit])
        assert report.rolled_back == [comp], report
        now = await store.levels(comp)
        assert now is not None and now.version == truth.version + 1
        assert now.locations[LOC].on_hand == 11 and now.locations[LOC].reserved == 1
        # each once; the kit command and the receipt are on two partitions: replayed in the
        # order they are read, which one partition's order alone bounds
        keys = [key for key, _, _ in await entered(store, comp)]
        assert keys[0] == f"{comp}:count" and sorted(keys[1:]) == sorted([share, f"{comp}:after"])
        for s in (other, kit):
            assert await store.levels(s) == moved[s], s
        assert (await detect_lost(store, kafka_bootstrap, levels_topic=topics3.levels,
                                  commands_topic=topics3.commands)).lost == []  # fmt: skip
    finally:
        await producer.stop()


async def test_the_command_line_detects_and_repairs(
    kafka_bootstrap: str, redis5: Redis, handler_topics: Topics, capsys
) -> None:
    """``--detect`` names the SKU and writes nothing; ``--detect --repair`` rebuilds it."""
    topics3 = handler_topics
    run = uuid.uuid4().hex[:8]
    sku = f"FO-cli-{run}"
    group = f"it-failover-cli-{run}"
    store = RedisInventory(redis5, group, idem_ttl_s=3600, ledger_max_len=1000)
    producer = make_producer(kafka_bootstrap, "it-failover")
    await producer.start()
    try:
        events = [command(sku, "set_on_hand", 4, f"{sku}:count")]
        await produce(producer, topics3.commands, events)
        await handle_all(kafka_bootstrap, topics3.commands, CommandHandler(store, producer))
    finally:
        await producer.stop()
    await redis5.delete(state_key(sku))  # everything of the SKU lost
    common = ["--bootstrap", kafka_bootstrap, "--redis-url", db5(REDIS), "--group", group]
    common += ["--levels-topic", topics3.levels]
    common += ["--commands-topic", topics3.commands, "--changed-topic", topics3.changed]
    # main() runs its own event loop: give it a thread of its own
    assert await asyncio.to_thread(main, [*common, "--detect"]) == 0
    assert f'"{sku}"' in capsys.readouterr().out and await store.levels(sku) is None
    assert await asyncio.to_thread(main, [*common, "--detect", "--repair"]) == 0
    restored = await store.levels(sku)
    assert restored is not None and restored.locations[LOC].on_hand == 4
    assert not await redis5.exists(offsets_key(group))  # a per-SKU rebuild leaves the offsets


def test_a_kit_command_to_replay_across_the_scope_is_refused_before_any_write() -> None:
    """A tail kit command moves its kit and every component: rebuilt for some of them only,
    the others would be moved twice or not at all; the rebuild names the SKUs to add."""
    plan = _Plan()
    kit = command("KIT-1", "reserve", 1, "kit-order-1").payload
    plan.tail.append((kit, Position("cmds", 0, 9)))
    plan.kit_parts[(0, 9)] = [("A-1", 2), ("B-1", 1)]
    with pytest.raises(RebuildError, match=r"\['B-1', 'KIT-1'\]"):
        plan.only({"A-1"})
    plan.only({"A-1", "B-1", "KIT-1"})  # the whole kit: replayed
    assert plan.tail == [(kit, Position("cmds", 0, 9))]
    plan.only({"C-1"})  # none of it: left out
    assert plan.tail == []
