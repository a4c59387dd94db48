"""Rebuild inventory truth in Redis from Kafka, after Redis lost it.

``stocksync-inventory-rebuild`` / ``python -m inventory_adjuster.rebuild``. Run it with
inventory-adjuster stopped (scaled to zero): it reads both topics up to the end offsets it
sees at start, and commands arriving later are the consumer's job once it is back.

1. ``inventory.levels.v1`` (compacted) from the beginning: the latest levels of every SKU.
   Latest = produced by the later command offset (same partition), else the higher
   ``version``, so records not compacted yet, or written late by a zombie, cannot bring old
   levels back. Each SKU's ``inv:{sku}`` is replaced by its level fields and version (the
   settings no record carries are kept unless a command read states them again).
2. ``inventory.commands.v1`` from the beginning of what is retained. A command at or before
   the (partition, offset) its SKU's levels record was produced by is already in those
   levels: its idempotency key is re-marked (``restored``) so a late copy stays a no-op, and
   settings the levels do not carry are taken from it (``configure``: policy, allocation
   threshold, kit; ``set_on_hand``: the newest count time). A later command is applied
   through the normal apply script, in topic order.
   Kit commands (reserve/release/commit on a SKU a ``configure`` made a kit) move their
   components, which live on other partitions; whether a component's levels include one is
   read from the levels' ``kit_offsets`` (docs/decisions/0008-kits-and-rebuild.md). Covered
   for every component: its keys are re-marked. Otherwise the components it covers get their
   per-component marker, and the command is replayed through the kit script, which moves only
   the others. The kit's own share (its shops' ``seen`` counters, its version) is in the kit's
   levels iff they cover the command's position, as for a plain command: in, the kit's own
   marker makes the script skip it; not in while every component's share is, that share
   alone is applied again (``kit_own_only``). Afterwards the kit routing hashes
   (``kit-defs``, ``kit-index``) are rebuilt from the restored kit definitions.
3. ``inventory.changed.v1`` (what is retained): the waiting list of refused order lines of
   every restored SKU, as of its levels (:mod:`inventory_adjuster.rebuild_waiting`), and what
   each routed order line holds per location, parked holds included
   (:mod:`inventory_adjuster.rebuild_holds`; ADR 0018), written before the replay, which
   serves the list and moves the holds as the adjuster did.
4. The group's stored offsets (``offsets:{<group>}``) are set to the last command offset
   read per partition, so the consumer resumes after what was rebuilt.

Running it again (``--force``, ``--skus`` twice) gives what one run gave, ``seen`` counters
included (docs/decisions/0008-kits-and-rebuild.md, "A rebuild run twice"): every hash it
restores is replaced, not merged into, so no field an earlier run's replay wrote survives for
the replay to move again; the SKUs the replay moves that have no levels record are emptied;
the replayed commands' idempotency keys and ledger entries are cleared first.

**Per SKU, after a Redis Cluster failover** (docs/decisions/0029-redis-cluster.md): a
promoted replica may lack the last writes its master acknowledged. ``--detect`` compares every
SKU's state in Redis (``version``, ``pos``, ``kitoff|<p>``) with its latest levels record, which
the adjuster publishes only after the script returned: a SKU whose Redis state is behind its
record lost writes (:func:`detect_lost`); so did one whose records show commands applied on
the incomplete state (a version that went back, or came again while the command that first
reached it left no idempotency key, or any record whose command's key is missing, a refused
one's included: :class:`TrustedLevels`). ``--skus`` / ``--slots`` /
``--detect --repair`` rebuild those SKUs only (steps 1-3 restricted to them); every other key,
and the group's offsets, are left as they are. Each is restored from the last record whose
command's key Redis still holds, so the lost commands are replayed through the script with
the later ones, ledger entries included (:meth:`TrustedLevels.roll_back`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, TopicPartition
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.crc import key_slot

from inventory_adjuster.adapters.kits import (
    KIT_COMMANDS,
    KIT_OFFSET_PREFIX,
    Components,
    KitDefinitionChanged,
    KitStore,
    KitWait,
    component_key,
    kit_own_only,
    kit_waiting_entry,
    own_key,
    stocked_at,
    undo_key,
)
from inventory_adjuster.adapters.redis_store import (
    SEEN_PREFIX,
    DefaultAllocation,
    Invalid,
    Position,
    RedisInventory,
    as_text,
    hold_line,
    idem_key,
    offsets_key,
    restore_fields,
    state_key,
)
from inventory_adjuster.rebuild_holds import HoldHistory, restore_holds
from inventory_adjuster.rebuild_waiting import WaitingHistory, restore_waiting
from inventory_adjuster.settings import Settings
from stocksync_common.client_start import start_whole
from stocksync_common.events import (
    InventoryCommand,
    InventoryCommandRequested,
    InventoryLevelsUpdated,
    decode,
)
from stocksync_common.kafka import consumer_started, stop_consumer
from stocksync_common.redis_client import connect as connect_redis
from stocksync_common.stores import load_stores
from stocksync_common.topics import (
    CATALOG_TOPICS,
    INVENTORY_CHANGED,
    INVENTORY_COMMANDS,
    INVENTORY_LEVELS,
)
from stocksync_common.transport import KafkaSecurity, kafka_options

log = logging.getLogger(__name__)

FETCH_RECORDS = 20_000
Records = Sequence[ConsumerRecord[bytes, bytes]]


class RebuildError(RuntimeError):
    """The rebuild cannot start or cannot finish safely."""


@dataclass
class Report:
    skus: int = 0  # SKUs whose levels were restored
    levels_records: int = 0
    commands_read: int = 0
    commands_replayed: int = 0  # after their SKU's levels: applied through the script
    keys_remarked: int = 0  # at or before them: only their idempotency key written
    waiting_restored: int = 0  # refused order lines put back on their SKU's waiting list
    holds_restored: int = 0  # routed order lines' holds written back (rebuild_holds)
    replay_outcomes: dict[str, int] = field(default_factory=dict)
    settings_restored: int = 0  # SKUs whose policy/threshold/kit/count time came back
    kit_commands_replayed: int = 0  # through the kit script (some components may be marked)
    kits_defined: int = 0  # kits written back into the routing hashes
    kit_components_shared: int = 0  # kits' components split again between direct and kits
    kit_shares_restored: int = 0  # kit commands whose kit's own seen/version came back alone
    cleared: int = 0  # SKUs with commands to replay but no levels record: their state emptied
    unordered: int = 0  # covered by levels of unknown or another partition: not replayed
    scope: list[str] | None = None  # the SKUs rebuilt (--skus, --slots, --detect --repair)
    # per SKU: restored from an earlier record than the latest (or the last before a sign),
    # the commands behind the later ones having left no key in Redis (lost): they are replayed
    rolled_back: list[str] = field(default_factory=list)
    keys_checked: int = 0  # idempotency keys of levels records looked up (per SKU only)
    invalid: int = 0  # refused by the script (poison); the adjuster dead-lettered them
    undecodable: int = 0  # records that are not the expected event; skipped
    offsets: dict[str, int] = field(default_factory=dict)
    phases_s: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


class Restored(NamedTuple):
    """One SKU's levels as read from a levels record, ready to be written."""

    version: int
    partition: int | None
    offset: int | None
    fields: dict[str, str | int]  # the state-hash fields (see redis_store.restore_fields)
    key: str | None = None  # the idempotency key of the command behind it (None: not known)

    def supersedes(self, other: Restored) -> bool:
        """Were these levels produced after ``other``? The later command offset says so when
        both come from the same partition (a replayed duplicate of an old command can carry
        a higher version but an older offset; a Redis that lost everything restarts
        versions); otherwise, and on the same offset, the higher version."""
        if self.partition is not None and self.partition == other.partition:
            if self.offset is not None and other.offset is not None and self.offset != other.offset:
                return self.offset > other.offset
        if self.version != other.version:
            return self.version > other.version
        # same version: a rejected kit command stamps its components without a version bump;
        # kit offsets only grow, so the snapshot with more of them is the later one
        return self.kit_stamps() >= other.kit_stamps()

    def outranks(self, other: Restored) -> bool:
        """The record to trust after a failover (ADR 0029): the higher version, then
        :meth:`supersedes`. Versions only grow while Redis keeps its writes. A record with a
        lower version after a higher one was produced on a state that had lost writes: a
        command applied on the promoted replica before the loss was found. Restoring it would
        keep the loss."""
        if self.version != other.version:
            return self.version > other.version
        return self.supersedes(other)

    def covers_position_of(self, other: Restored) -> bool:
        """Is ``other``'s command at or before this record's, on the same partition?"""
        if other.partition is None or other.offset is None or self.offset is None:
            return False
        return other.partition == self.partition and other.offset <= self.offset

    def follows(self, other: Restored) -> bool:
        """Was this record's write made after ``other``'s, as the commands behind them say (same
        partition)? A later command; or the same one, with more kit stamps: a component's
        levels after a kit command keep the position of the component's own last command and
        add the kit command's stamp (ADR 0008)."""
        if self.partition is None or self.partition != other.partition:
            return False
        if self.offset is None or other.offset is None:
            return False
        if self.offset != other.offset:
            return self.offset > other.offset
        return self.kit_stamps() > other.kit_stamps()

    def kit_stamps(self) -> int:
        return sum(int(v) for f, v in self.fields.items() if f.startswith(KIT_OFFSET_PREFIX))

    def covers(self, pos: Position) -> bool:
        """Is the command at ``pos`` already in these levels? Unknown order counts as yes:
        applying a command twice could oversell; ``Report.unordered`` says how many."""
        if self.partition is None or self.offset is None or self.partition != pos.partition:
            return True
        return pos.offset <= self.offset


REPAIRED = "repaired"  # state-hash field: the sign of a loss a per-SKU rebuild repaired
# An idempotency key is looked for only while its record is younger than this share of the
# key's TTL: an older key may have expired, and its absence would prove nothing.
KEY_TTL_SHARE = 0.9
# ... and than this share of the commands topic's retention: a full rebuild re-marks only the
# keys of the commands that topic still holds, so an older record's key may never have been
# written back (and its command could not be replayed). The rest is the margin for a command
# applied a while after it was produced (a retry, a held partition).
RETENTION_SHARE = 0.9


class Tie(NamedTuple):
    """A record whose command's idempotency key Redis is asked for (ADR 0029): a later record
    that repeated the version of the best record before it (:attr:`TrustedLevels.ties`), or
    any later record with a key (:attr:`TrustedLevels.keyed`)."""

    version: int
    key: str  # the idempotency key looked up: of the first record at that version (the one
    # that bumped it), or of the record itself
    ts_ms: int  # that record's timestamp
    trust: Restored  # the best record before the repeat (before the record itself)
    at: str  # "<partition>:<offset>" of the repeating record (of the record itself)
    kept_at: int  # its index in the SKU's kept records (-1: not kept)

    def offset(self) -> int:
        return int(self.at.rpartition(":")[2])


@dataclass
class TrustedLevels:
    """Each SKU's levels record to trust after a failover, read in topic order (ADR 0029).

    Versions only grow while Redis keeps its writes. The adjuster may apply commands on a
    promoted replica that lacks some writes before anyone looks. Two signs in the records:
    - a record of a later command with a **lower** version (``regressed`` at once);
    - a record of a later command with the **same** version as the best before it, when the
      command that first reached that version left no idempotency key in Redis (its key is
      written by the script that made the change, so its absence is the change's). A refused,
      duplicate or stale command repeats a version too; only the key tells them apart, so
      such a repeat is a :class:`Tie` that :meth:`settle` decides by asking Redis;
    - any later record whose command's idempotency key is missing from Redis (``keyed``):
      a refused, stale or duplicate command writes its key too (apply.lua stores every
      result but a poison one), so a loss of those alone, which moves no version, shows
      here; the record before it is the one to trust.
    From the first sign on, the SKU's choice is frozen at the best record before it, so the
    rebuild restores that one and replays every later command, those applied on the
    incomplete state included. Otherwise the highest version wins, then
    :meth:`Restored.supersedes`. Compaction can remove both the sign and the record to trust
    (the last record of a key is all it keeps), so the check must run before it does.

    A per-SKU rebuild writes ``repaired`` = the position of the sign it repaired (``at``)
    into the SKU's state hash: the sign stays in the topic, and is not reported again (nor,
    its lost keys written again by the repair, taken for no sign by a rerun).

    ``keep``: the SKUs whose records are all kept (a per-SKU rebuild's scope), so that
    :meth:`roll_back` can restore the last record whose command Redis still holds."""

    keep: Callable[[str], bool] | None = None
    best: dict[str, Restored] = field(default_factory=dict)
    regressed: dict[str, str] = field(default_factory=dict)
    at: dict[str, str] = field(default_factory=dict)  # "<partition>:<offset>" of the sign
    ties: dict[str, list[Tie]] = field(default_factory=dict)
    # every later record with a key, from ``since_ms`` on (None: all): see :meth:`settle`
    keyed: dict[str, list[Tie]] = field(default_factory=dict)
    since_ms: int | None = None
    keys_checked: int = 0  # idempotency keys looked up in Redis (settle, roll_back)
    _top: dict[str, tuple[str | None, int]] = field(default_factory=dict)  # see Tie.key
    _history: dict[str, list[tuple[Restored, int]]] = field(default_factory=dict)
    _sign: dict[str, int] = field(default_factory=dict)  # index of the sign in _history
    _before_missing: set[str] = field(default_factory=set)  # signed by a keyed record

    def take(self, sku: str, lv: Restored, ts_ms: int = 0) -> None:
        """The SKU's next record in topic order (``ts_ms``: its timestamp)."""
        if sku in self.regressed:
            return
        index = -1
        if self.keep is not None and self.keep(sku):
            kept = self._history.setdefault(sku, [])
            # a command read again (a duplicate at its old position) published the levels of
            # its time under an older position: no point to restore from, its key no sign
            # (a kit command's component levels at the same position: after it, see follows)
            last = kept[-1][0] if kept else None
            if (
                last is None
                or lv.key is None
                or not last.covers_position_of(lv)
                or lv.follows(last)
            ):
                index = len(kept)
                kept.append((lv, ts_ms))
        cur = self.best.get(sku)
        if cur is None:
            self.best[sku] = lv
            self._top[sku] = (lv.key, ts_ms)
            return
        later = lv.follows(cur)
        if later and lv.version < cur.version:
            self.at[sku] = f"{lv.partition}:{lv.offset}"
            self._sign[sku] = index
            self.regressed[sku] = (
                f"version went back: {lv.version} at {self.at[sku]} after "
                f"{cur.version} at {cur.partition}:{cur.offset}"
            )
            return
        if later and lv.key is not None and (self.since_ms is None or ts_ms >= self.since_ms):
            at = f"{lv.partition}:{lv.offset}"
            self.keyed.setdefault(sku, []).append(Tie(lv.version, lv.key, ts_ms, cur, at, index))
        if later and lv.version == cur.version:
            key, ts = self._top[sku]
            ties = self.ties.setdefault(sku, [])
            if key is not None and (not ties or ties[-1].version != cur.version):
                ties.append(Tie(cur.version, key, ts, cur, f"{lv.partition}:{lv.offset}", index))
        if lv.outranks(cur):
            if lv.version > cur.version:
                self._top[sku] = (lv.key, ts_ms)
            self.best[sku] = lv

    def drop(self, sku: str) -> None:
        """A tombstone: the SKU was deleted."""
        for held in (self.best, self.regressed, self.at, self.ties, self.keyed, self._top):
            held.pop(sku, None)
        self._before_missing.discard(sku)
        self._history.pop(sku, None)
        self._sign.pop(sku, None)

    def keeps(self, sku: str) -> bool:
        return sku in self._history

    async def settle(self, redis: Redis, skus: Iterable[str], *, chunk: int = 1000) -> None:
        """Decide the ties and keyed records of ``skus``: the first in topic order whose
        command's idempotency key is missing from Redis (its record from ``since_ms`` on: see
        :func:`key_window_ms`), or whose position a per-SKU rebuild wrote as
        ``repaired``, is a sign of loss. Redis reads, pipelined in ``chunk``s: one ``EXISTS``
        per distinct (SKU, key) of those records (each later levels record with a key that
        young, and each tie's first record), and one ``HGET`` per SKU with any."""
        cutoff = self.since_ms or 0
        todo: list[tuple[str, Tie, str]] = []  # (SKU, tie or record, its sign's reason)
        for sku in skus:
            mine = [(t, "tie") for t in self.ties.get(sku, ()) if t.ts_ms >= cutoff]
            if sku not in self.regressed:  # a version that went back is a sign already
                asked = {t.key for t, _ in mine}  # a tie's key: the tie names it better
                keyed = self.keyed.get(sku, ())
                mine += [(t, "record") for t in keyed if t.ts_ms >= cutoff and t.key not in asked]
            mine.sort(key=lambda x: x[0].offset())  # one SKU: one partition
            todo += [(sku, t, kind) for t, kind in mine]
        if not todo:
            return
        owners = sorted({sku for sku, _, _ in todo})
        lookups = list(dict.fromkeys((sku, t.key) for sku, t, _ in todo))
        asks: list[tuple[str, ...]] = [("EXISTS", idem_key(sku, key)) for sku, key in lookups]
        asks += [("HGET", state_key(sku), REPAIRED) for sku in owners]
        answers = await _ask(redis, asks, chunk)
        self.keys_checked += len(lookups)
        there = dict(zip(lookups, answers, strict=False))
        repaired = dict(zip(owners, answers[len(lookups) :], strict=True))
        decided: set[str] = set()
        for sku, t, kind in todo:
            present = there[(sku, t.key)]
            if sku in decided or (present and as_text(repaired[sku] or "") != t.at):
                continue
            decided.add(sku)  # the first sign in topic order: earlier than any version drop
            self.best[sku], self.at[sku], self._sign[sku] = t.trust, t.at, t.kept_at
            if kind == "record":  # the record before the missing key: rolled back already
                self._before_missing.add(sku)
            self.regressed[sku] = (
                f"write lost: version {t.version} again at {t.at}, and the command that "
                f"first reached it ({t.key}) is not in Redis"
                if kind == "tie"
                else f"write lost: the command at {t.at} ({t.key}, version {t.version}) "
                "is not in Redis"
            )

    async def roll_back(self, redis: Redis, skus: Iterable[str], *, chunk: int = 1000) -> list[str]:
        """For each kept SKU of ``skus``: the commands behind its last records (before its
        sign, if any) whose idempotency keys are missing from Redis were lost; restore the
        record before them instead, so the rebuild replays those commands through the script
        like the later ones (their ledger entries, ``seen`` counters and waiting lines come
        back with them). The walk stops at a record with no key (after a rejected kit
        command) or older than ``since_ms`` (its key may have expired, or a full rebuild may
        not have re-marked it, its command gone from the commands topic:
        :func:`key_window_ms`). If every record is missing (a Redis emptied), the choice
        stays.
        Keys are looked up in rounds, from the last record back (1, then 8, 64, ... more per
        SKU still walking): a SKU that lost nothing costs one ``EXISTS``. The SKUs rolled
        back."""
        cutoff = self.since_ms or 0
        ends = {sku: self._sign.get(sku, len(self._history.get(sku, ()))) for sku in skus}
        walking = {sku: end - 1 for sku, end in ends.items() if end > 0}  # next index back
        restore: dict[str, int] = {}  # the index of the record to restore from
        step = 1
        while walking:
            asks: list[tuple[str, int, str]] = []
            blocked: set[str] = set()  # stopped at a record it cannot look up
            for sku, at in walking.items():
                kept = self._history[sku]
                for i in range(at, max(at - step, -1), -1):
                    lv, ts = kept[i]
                    if lv.key is None or ts < cutoff:
                        blocked.add(sku)
                        break
                    asks.append((sku, i, lv.key))
            present = await _ask(redis, [("EXISTS", idem_key(s, k)) for s, _, k in asks], chunk)
            self.keys_checked += len(asks)
            missing: dict[str, int] = {}  # the lowest index looked at, its key missing
            found: dict[str, int] = {}  # the highest index looked at whose key is there
            for (sku, i, _), there in zip(asks, present, strict=True):
                if sku in found:
                    continue
                if there:
                    found[sku] = i
                else:
                    missing[sku] = i
            for sku, at in list(walking.items()):
                low = missing.get(sku, at + 1)  # all of at..low missing
                if sku in found:
                    stop: int | None = found[sku]
                elif sku in blocked:
                    stop = low - 1  # the record it cannot look up: restored as before
                elif low == 0:
                    log.warning("every record's command is missing from Redis", extra={"sku": sku})
                    stop = None
                else:
                    walking[sku] = low - 1
                    continue
                del walking[sku]
                if stop is not None and stop < ends[sku] - 1:
                    restore[sku] = stop
            step *= 8
        for sku, i in restore.items():
            self.best[sku] = self._history[sku][i][0]
        return sorted({*restore, *(s for s in ends if s in self._before_missing)})

    def unrepaired(self, sku: str, state: dict[str, str]) -> str | None:
        """The sign of a loss in ``sku``'s records, unless a rebuild repaired it already."""
        if sku in self.regressed and state.get(REPAIRED) != self.at[sku]:
            return self.regressed[sku]
        return None


def key_window_ms(ttl_s: int, retention_ms: int | None, now_ms: int | None = None) -> int:
    """The oldest record time (ms since the epoch) whose command's idempotency key is looked
    up: the later of :data:`KEY_TTL_SHARE` of the key TTL ago (an older key may have expired)
    and :data:`RETENTION_SHARE` of the commands topic's retention ago (``retention_ms``; None:
    unbounded). A full rebuild re-marks the keys of the commands it reads, those the topic
    still holds, so an older record's key may be missing without any loss."""
    now = time.time() * 1000 if now_ms is None else now_ms
    since = now - ttl_s * 1000 * KEY_TTL_SHARE
    if retention_ms is not None:
        since = max(since, now - retention_ms * RETENTION_SHARE)
    return int(since)


async def commands_retention_ms(
    bootstrap: str, topic: str, *, security: KafkaSecurity | None = None
) -> int | None:
    """``retention.ms`` of the commands ``topic`` as the broker has it (None: -1, unbounded).
    If the broker does not answer it (no such topic, no right to describe its configs), the
    value the topic catalog declares for that name, logged; None for a topic it does not
    know (the key TTL alone bounds the lookups then, as before)."""
    value: str | None = None
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="inventory-rebuild", **kafka_options(security)
    )
    try:
        await start_whole(admin.start())
        wanted = ConfigResource(ConfigResourceType.TOPIC, topic, None)
        for response in await admin.describe_configs([wanted]):
            for code, _msg, _kind, _name, entries in response.resources:
                if code == 0:
                    value = next((e[1] for e in entries if e[0] == "retention.ms"), None)
    except KafkaError:
        log.warning("could not describe the commands topic", exc_info=True)
    finally:
        await admin.close()
    if value is None:
        declared = {spec.name: spec.config for spec in CATALOG_TOPICS}.get(topic, {})
        value = declared.get("retention.ms")
        log.warning(
            "the broker did not give the commands topic's retention; using the declared one",
            extra={"topic": topic, "retention_ms": value},
        )
    return None if value is None or int(value) < 0 else int(value)


async def _ask(redis: Redis, commands: Sequence[tuple[str, ...]], chunk: int) -> list[Any]:
    """Run read commands in pipelines of ``chunk`` (a cluster pipeline routes each by key)."""
    out: list[Any] = []
    for i in range(0, len(commands), chunk):
        pipe = redis.pipeline(transaction=False)
        for name, *args in commands[i : i + chunk]:
            pipe.execute_command(name, *args)
        out.extend(await pipe.execute())
    return out


@dataclass
class _Plan:
    """What reading both topics decided, before anything is written."""

    levels: dict[str, Restored] = field(default_factory=dict)
    extra: dict[str, dict[str, str | int]] = field(default_factory=dict)
    marks: list[tuple[str, str, bytes]] = field(default_factory=list)
    tail: list[tuple[InventoryCommand, Position]] = field(default_factory=list)
    tail_ids: set[str] = field(default_factory=set)  # the replayed commands' event ids
    waiting: WaitingHistory = field(default_factory=WaitingHistory)
    holds: HoldHistory = field(default_factory=HoldHistory)  # routed lines' holds (ADR 0018)
    kit_defs: dict[str, Components] = field(default_factory=dict)  # as of the command read
    kit_parts: dict[tuple[int, int], Components] = field(default_factory=dict)  # tail kit cmds
    forget_extra: list[tuple[str, str]] = field(default_factory=list)  # component markers
    # kit commands whose every component share is in the levels but whose kit's own share
    # (seen, version) is not in the kit's: that share alone is applied again
    own_only: list[tuple[InventoryCommand, Position]] = field(default_factory=list)
    # per SKU (after a failover): the record before any loss showed (:class:`TrustedLevels`)
    trusted: TrustedLevels | None = None
    # per SKU, the settings fields a command read states (restore.lua keeps the others)
    restated: dict[str, set[str]] = field(default_factory=dict)

    def take_changes(self, records: Records) -> None:
        """Records of the changes topic: the waiting lists' and the holds' story."""
        self.waiting.take(records)
        self.holds.take(records)

    def keep_levels(self, sku: str, lv: Restored, ts_ms: int = 0) -> None:
        if self.trusted is not None:
            self.trusted.take(sku, lv, ts_ms)
            self.levels = self.trusted.best
            return
        cur = self.levels.get(sku)
        if cur is None or lv.supersedes(cur):
            self.levels[sku] = lv

    def take_request(
        self, request: InventoryCommandRequested, pos: Position, ts_ms: int, rep: Report
    ) -> None:
        replayed = len(self.tail)
        self.take_command(request.payload, pos, ts_ms, rep)
        if len(self.tail) > replayed:
            self.tail_ids.add(request.id)

    def take_command(self, cmd: InventoryCommand, pos: Position, ts_ms: int, rep: Report) -> None:
        settings = _settings_of(cmd)
        if settings:
            self.restated.setdefault(cmd.sku, set()).update(settings)
        if cmd.command == "configure" and cmd.config is not None:
            kit = cmd.config.kit_components
            if kit:  # as the handler: an empty definition does not make a kit
                self.kit_defs[cmd.sku] = sorted(kit.items())
        if cmd.command in KIT_COMMANDS and cmd.sku in self.kit_defs:
            self._take_kit_command(cmd, pos, self.kit_defs[cmd.sku])
            return
        lv = self.levels.get(cmd.sku)
        if lv is None or not lv.covers(pos):
            self.tail.append((cmd, pos))
            return
        if lv.partition != pos.partition or lv.offset is None:
            rep.unordered += 1
        self.marks.append((cmd.sku, cmd.idempotency_key, _marker(cmd, pos)))
        if cmd.command == "configure" and cmd.config is not None:
            self.extra.setdefault(cmd.sku, {}).update(_config_fields(cmd))
        elif cmd.command == "set_on_hand":
            # apply.lua keeps the newest count time; a count with no time used its apply time
            as_of = int(cmd.as_of.timestamp() * 1000) if cmd.as_of else ts_ms
            extra = self.extra.setdefault(cmd.sku, {})
            name = f"{cmd.location}|count_as_of"
            extra[name] = max(as_of, int(extra.get(name, 0)))

    def _take_kit_command(self, cmd: InventoryCommand, pos: Position, parts: Components) -> None:
        """A component's levels include a kit command iff its highest kit offset for the
        command's partition is at or after it (kit.lua stamps every component it evaluates,
        and one partition's kit commands are applied in offset order). The kit's own levels
        (its shops' ``seen`` counters, its version) include it iff they cover its position, as
        for a plain command: kit.lua keeps the kit's ``pos``, and a kit command publishes the
        kit's levels too."""
        field = f"{KIT_OFFSET_PREFIX}{pos.partition}"
        marker = _marker(cmd, pos)
        kit_levels = self.levels.get(cmd.sku)
        own_in = kit_levels is not None and kit_levels.covers(pos)
        uncovered = []
        for comp, _ in parts:
            lv = self.levels.get(comp)
            if lv is not None and int(lv.fields.get(field, -1)) >= pos.offset:
                self.marks.append((comp, component_key(cmd.idempotency_key, comp), marker))
            else:
                uncovered.append(comp)
        if not uncovered:
            self.marks.append((cmd.sku, cmd.idempotency_key, marker))
            if not own_in:
                self.own_only.append((cmd, pos))
            return
        own = own_key(cmd.idempotency_key)
        if own_in:  # the replay moves the uncovered components only
            self.marks.append((cmd.sku, own, marker))
        else:
            self.forget_extra.append((cmd.sku, own))
        for c in uncovered:  # its marker, and its undo of a two-phase kit (ADR 0034)
            self.forget_extra.append((c, component_key(cmd.idempotency_key, c)))
            self.forget_extra.append((c, undo_key(cmd.idempotency_key, c)))
        self.kit_parts[(pos.partition, pos.offset)] = parts
        self.tail.append((cmd, pos))

    def only(self, skus: Collection[str]) -> None:
        """Keep what concerns ``skus`` alone. A kit command to replay that also moves SKUs
        outside them cannot be replayed for some of its SKUs only: refused before any write."""
        for cmd, pos in self.tail:
            parts = self.kit_parts.get((pos.partition, pos.offset))
            if parts is None:
                continue
            involved = {cmd.sku, *(c for c, _ in parts)}
            if involved & set(skus) and not involved <= set(skus):
                raise RebuildError(
                    f"kit command {cmd.idempotency_key} on {cmd.sku} at {pos.partition}:"
                    f"{pos.offset} must be replayed and also moves "
                    f"{sorted(involved - set(skus))}: add them (--skus), or rebuild the whole "
                    "store"
                )
        keep = set(skus)
        self.levels = {k: v for k, v in self.levels.items() if k in keep}
        self.extra = {k: v for k, v in self.extra.items() if k in keep}
        self.marks = [m for m in self.marks if m[0] in keep]
        self.tail = [t for t in self.tail if t[0].sku in keep]
        self.forget_extra = [f for f in self.forget_extra if f[0] in keep]
        self.own_only = [t for t in self.own_only if t[0].sku in keep]
        self.restated = {k: v for k, v in self.restated.items() if k in keep}

    def cleared(self) -> list[str]:
        """The SKUs the replay moves that have no levels record: they start from nothing, as
        on an empty Redis (the tail's SKUs, the components of its kit commands, the kits
        whose own share is applied alone)."""
        moved = {c.sku for c, _ in self.own_only}
        for cmd, pos in self.tail:
            moved.add(cmd.sku)
            moved.update(c for c, _ in self.kit_parts.get((pos.partition, pos.offset), ()))
        return sorted(moved - self.levels.keys())


def _marker(cmd: InventoryCommand, pos: Position) -> bytes:
    # Not "applied": the first result (applied, rejected, stale) is not known any more.
    return orjson.dumps(
        {
            "status": "restored",
            "restored": True,
            "command": cmd.command,
            "location": cmd.location,
            "quantity": cmd.quantity,
            "partition": pos.partition,
            "offset": pos.offset,
        }
    )


def _settings_of(cmd: InventoryCommand) -> list[str]:
    """The state-hash settings (fields no levels record carries) that ``cmd`` writes."""
    if cmd.command == "set_on_hand":
        return [f"{cmd.location}|count_as_of"]
    if cmd.command == "configure" and cmd.config is not None:
        return list(_config_fields(cmd))
    return []


def _config_fields(cmd: InventoryCommand) -> dict[str, str | int]:
    """The state-hash fields apply.lua writes for a configure command (safety stock is a level)."""
    cfg = cmd.config
    out: dict[str, str | int] = {}
    if cfg is None:
        return out
    if cfg.policy is not None:
        out["policy"] = cfg.policy
    if cfg.allocation_threshold is not None:
        out["alloc_threshold"] = cfg.allocation_threshold
    if cfg.kit_components is not None:
        out["kit"] = orjson.dumps(cfg.kit_components).decode()
    return out


# --- parsing ------------------------------------------------------------------------------


def parse_levels(raw: bytes) -> tuple[str, Restored] | None:
    """The SKU and levels in one levels record. What inventory-adjuster writes takes a strict
    fast path (orjson and exact type checks: several times cheaper than the pydantic models,
    which would be most of a 100,000-SKU rebuild); anything else goes through ``decode``."""
    try:
        doc = orjson.loads(raw)
        fast = _fast_levels(doc["payload"]) if doc["type"] == "inventory.levels" else None
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        fast = None
    if fast is not None:
        return fast
    event = _decode(raw)
    if not isinstance(event, InventoryLevelsUpdated):
        return None
    lv = event.payload
    fields = restore_fields(lv)
    return lv.sku, Restored(lv.version, lv.partition, lv.offset, fields, lv.idempotency_key)


def _fast_levels(p: dict[str, Any]) -> tuple[str, Restored] | None:
    sku, version, shares = p["sku"], p["version"], p.get("shares")
    partition, offset, key = p.get("partition"), p.get("offset"), p.get("idempotency_key")
    if not (type(sku) is str and sku and type(version) is int):
        return None
    if not (key is None or type(key) is str):
        return None
    if not (
        (partition is None or type(partition) is int) and (offset is None or type(offset) is int)
    ):
        return None
    fields: dict[str, str | int] = {"version": version}
    for loc, lv in p["locations"].items():
        for part in ("on_hand", "reserved", "safety_stock"):
            value = lv.get(part, 0)
            if type(value) is not int:
                return None
            fields[f"{loc}|{part}"] = value
    if shares:
        if not (isinstance(shares, dict) and all(type(v) is int for v in shares.values())):
            return None
        fields["shares"] = orjson.dumps(shares).decode()
    if not _fast_seen(p.get("seen"), fields):
        return None
    kit_offsets = p.get("kit_offsets")
    if kit_offsets:
        if not isinstance(kit_offsets, dict):
            return None
        if not all(type(v) is int for v in kit_offsets.values()):
            return None
        for part, off in kit_offsets.items():
            fields[f"{KIT_OFFSET_PREFIX}{part}"] = off
    if partition is not None and offset is not None:
        fields["pos"] = f"{partition}:{offset}"
    return sku, Restored(version, partition, offset, fields, key)


def _fast_seen(seen: object, fields: dict[str, str | int]) -> bool:
    """The shops' applied-order counters as state-hash fields; False when malformed."""
    if not seen:
        return True
    if not isinstance(seen, dict):
        return False
    for loc, counters in seen.items():
        if not (isinstance(counters, dict) and all(type(v) is int for v in counters.values())):
            return False
        for shop, n in counters.items():
            fields[f"{SEEN_PREFIX}{loc}|{shop}"] = n
    return True


def _decode(raw: bytes | None) -> object:
    try:
        return decode(raw)
    except (ValidationError, ValueError):
        return None


def _command(raw: bytes | None) -> InventoryCommandRequested | None:
    """Exactly what the adjuster accepts (``decode`` then the type): anything else it
    dead-lettered, so it must neither be replayed nor have its key marked."""
    if raw is None:
        return None
    try:
        return InventoryCommandRequested.model_validate_json(raw)
    except ValidationError:
        return None


# --- reading ------------------------------------------------------------------------------


async def read_to_end(
    bootstrap: str,
    topic: str,
    on_records: Callable[[Records], None],
    *,
    idle_timeout_s: float = 30.0,
    security: KafkaSecurity | None = None,
) -> dict[int, int]:
    """Feed every record of ``topic`` up to the end offsets seen at start to ``on_records``;
    returns the last offset read per partition."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        check_crcs=False,
        client_id="inventory-rebuild",
        **kafka_options(security),
    )
    await consumer_started(consumer)
    try:
        tps = sorted(consumer.assignment(), key=lambda tp: tp.partition)
        if not tps:
            raise RebuildError(f"topic {topic} does not exist or has no partitions")
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        return await _drain(consumer, ends, on_records, idle_timeout_s)
    finally:
        await stop_consumer(consumer)


async def _drain(
    consumer: AIOKafkaConsumer,
    ends: dict[TopicPartition, int],
    on_records: Callable[[Records], None],
    idle_timeout_s: float,
) -> dict[int, int]:
    last: dict[int, int] = {}
    pending = {tp for tp, end in ends.items() if await consumer.position(tp) < end}
    deadline = time.monotonic() + idle_timeout_s
    while pending:
        batches = await consumer.getmany(*pending, timeout_ms=500, max_records=FETCH_RECORDS)
        for tp, records in batches.items():
            end = ends[tp]
            keep = records if records[-1].offset < end else [r for r in records if r.offset < end]
            if keep:
                on_records(keep)
                last[tp.partition] = keep[-1].offset
                deadline = time.monotonic() + idle_timeout_s
        for tp in list(pending):
            if await consumer.position(tp) >= ends[tp]:
                pending.discard(tp)
                consumer.pause(tp)  # do not fetch what arrived after the start
        if pending and time.monotonic() > deadline:
            raise RebuildError(f"no progress for {idle_timeout_s}s on {sorted(map(str, pending))}")
    return last


# --- the rebuild --------------------------------------------------------------------------


async def rebuild(
    store: RedisInventory,
    bootstrap: str,
    *,
    levels_topic: str = INVENTORY_LEVELS,
    commands_topic: str = INVENTORY_COMMANDS,
    changed_topic: str = INVENTORY_CHANGED,
    batch: int = 1000,
    force: bool = False,
    security: KafkaSecurity | None = None,
    skus: Collection[str] | None = None,
    slots: Collection[int] | None = None,
) -> Report:
    """Restore levels, re-mark covered commands, replay later ones; see the module doc.
    ``skus``: those SKUs only, the rest of Redis and the group's offsets left as they are
    (no refusal when Redis holds state: it does, by design); ``slots``: the SKUs (with a
    levels record or a command) whose keys are in those hash slots."""
    started = time.perf_counter()
    scoped = skus is not None or slots is not None
    if not scoped and not force and await store.redis.exists(offsets_key(store.group)):
        raise RebuildError(
            f"Redis already holds state for group {store.group!r} ({offsets_key(store.group)} "
            "exists); stop inventory-adjuster and pass --force to overwrite it"
        )
    # per SKU: the keys looked up in the same window as the detection's (key_window_ms)
    keep = _in_scope(skus, slots)
    trusted = (
        await _trusted_levels(store, bootstrap, commands_topic, security, keep) if scoped else None
    )
    rep, plan = Report(), _Plan(trusted=trusted)
    phase = _Phases(rep)

    def on_levels(records: Records) -> None:
        rep.levels_records += len(records)
        for r in records:
            if r.value is None:  # a tombstone deletes the SKU
                if r.key is not None:
                    plan.levels.pop(r.key.decode(), None)
                    if plan.trusted is not None:
                        plan.trusted.drop(r.key.decode())
                continue
            parsed = parse_levels(r.value)
            if parsed is None:
                rep.undecodable += 1
            else:
                plan.keep_levels(*parsed, r.timestamp)

    def on_commands(records: Records) -> None:
        rep.commands_read += len(records)
        for r in records:
            request = _command(r.value)
            if request is None:
                rep.undecodable += 1
            else:
                plan.take_request(
                    request, Position(commands_topic, r.partition, r.offset), r.timestamp, rep
                )

    await read_to_end(bootstrap, levels_topic, on_levels, security=security)
    phase("read_levels")
    if trusted is not None:  # before the commands are read: the records decide what is replayed
        mine = [sku for sku in trusted.best if trusted.keeps(sku)]
        await trusted.settle(store.redis, mine)
        rep.rolled_back = await trusted.roll_back(store.redis, mine)
        rep.keys_checked = trusted.keys_checked
        phase("check_keys")
    last = await read_to_end(bootstrap, commands_topic, on_commands, security=security)
    phase("read_commands")
    await read_to_end(bootstrap, changed_topic, plan.take_changes, security=security)
    rep.undecodable += plan.waiting.undecodable + plan.holds.undecodable
    phase("read_changes")
    if scoped:
        rep.scope = _narrow(plan, skus, slots)
    await _write(store, plan, rep, phase, batch)
    if not scoped:
        rep.offsets = {f"{commands_topic}:{p}": o for p, o in sorted(last.items())}
        await store.set_offsets(rep.offsets)
    rep.seconds = round(time.perf_counter() - started, 3)
    if rep.unordered or rep.undecodable or rep.invalid:
        log.warning(
            "rebuild skipped records",
            extra={
                "unordered": rep.unordered,
                "undecodable": rep.undecodable,
                "invalid": rep.invalid,
            },
        )
    return rep


async def _trusted_levels(
    store: RedisInventory,
    bootstrap: str,
    commands_topic: str,
    security: KafkaSecurity | None,
    keep: Callable[[str], bool] | None = None,
) -> TrustedLevels:
    """A :class:`TrustedLevels` whose keys are looked up within :func:`key_window_ms` (the key
    TTL and ``commands_topic``'s retention as the broker has it)."""
    retention = await commands_retention_ms(bootstrap, commands_topic, security=security)
    return TrustedLevels(keep, since_ms=key_window_ms(store.idem_ttl_s, retention))


def _in_scope(skus: Collection[str] | None, slots: Collection[int] | None) -> Callable[[str], bool]:
    """Is a SKU in a per-SKU rebuild's scope (named, or its keys in one of the slots)?"""
    named, wanted = set(skus or ()), set(slots or ())
    slot_of: dict[str, int] = {}

    def check(sku: str) -> bool:
        if sku in named:
            return True
        if not wanted:
            return False
        if sku not in slot_of:
            slot_of[sku] = sku_slot(sku)
        return slot_of[sku] in wanted

    return check


def _narrow(plan: _Plan, skus: Collection[str] | None, slots: Collection[int] | None) -> list[str]:
    """Keep the plan to ``skus`` and the SKUs of ``slots`` (those it read of); note on each a
    sign of loss it repairs (:class:`TrustedLevels`). The SKUs kept."""
    scope = set(skus or ())
    if slots is not None:
        wanted = set(slots)
        seen = {*plan.levels, *(c.sku for c, _ in plan.tail), *(m[0] for m in plan.marks)}
        scope |= {sku for sku in seen if sku_slot(sku) in wanted}
    plan.only(scope)
    for sku, at in (plan.trusted.at if plan.trusted else {}).items():
        if sku in plan.levels:
            plan.extra.setdefault(sku, {})[REPAIRED] = at
    return sorted(scope)


async def _write(
    store: RedisInventory, plan: _Plan, rep: Report, phase: _Phases, batch: int
) -> None:
    # Each restored hash is replaced, not merged into (a rerun; ADR 0008, "run twice")
    items: list[tuple[str, Mapping[str, str | int]]] = []
    for sku, lv in plan.levels.items():
        extra = plan.extra.get(sku)
        items.append((sku, {**lv.fields, **extra} if extra else lv.fields))
    rep.skus = len(items)
    cleared = plan.cleared()
    items.extend((sku, {}) for sku in cleared)
    rep.cleared = len(cleared)
    await store.restore_many(items, plan.restated)
    rep.settings_restored = sum(
        1 for sku, extra in plan.extra.items() if extra and sku in plan.levels
    )
    phase("restore")
    # Keys of replayed commands are cleared first (a rerun, or a Redis that kept some), then
    # covered keys marked, so a later copy of a covered command is still a duplicate.
    forgotten = [(c.sku, c.idempotency_key) for c, _ in plan.tail] + plan.forget_extra
    await store.forget(forgotten)
    # and their ledger entries (a rerun's, or a kept Redis's): the replay writes them again;
    # not those of a covered command whose late copy is in the tail (a duplicate writes none)
    covered = {(sku, key) for sku, key, _ in plan.marks}
    ledger: dict[str, set[str]] = {}
    for sku, key in forgotten:
        if (sku, key) not in covered:
            ledger.setdefault(sku, set()).add(key)
    await store.forget_ledger(ledger)
    await store.mark_applied(plan.marks)
    rep.keys_remarked = len(plan.marks)
    phase("remark")
    replayed_keys = {(c.sku, c.idempotency_key) for c, _ in plan.tail}
    restored = [*plan.levels, *cleared]
    lists = plan.waiting.lists(restored, replayed_keys, plan.tail_ids)
    rep.waiting_restored = await restore_waiting(store.redis, lists, restored)
    rep.holds_restored = await _restore_holds(store, plan, restored, replayed_keys)
    phase("waiting")
    kits = KitStore(
        store.redis,
        store.group,
        idem_ttl_s=store.idem_ttl_s,
        ledger_max_len=store.ledger_max_len,
        shops=store.shops,
        allocation=store.allocation,
        hold_ttl_s=store.hold_ttl_s,
    )

    def outcome(status: str) -> None:
        rep.replay_outcomes[status] = rep.replay_outcomes.get(status, 0) + 1

    run: list[tuple[InventoryCommand, Position | None]] = []

    async def flush() -> None:
        for result in await store.apply_many(run):
            if isinstance(result, Invalid):
                rep.invalid += 1
            else:
                outcome(result.status)
        run.clear()

    for cmd, pos in plan.tail:  # in topic order; plain runs pipelined, kit commands one by one
        parts = plan.kit_parts.get((pos.partition, pos.offset))
        if parts is None:
            run.append((cmd, pos))
            if len(run) >= batch:
                await flush()
            continue
        await flush()
        try:
            # a refusal queues its line as the live one did (ADR 0037)
            kit_result = await kits.apply(cmd, pos, parts, KitWait(queue=kit_waiting_entry(cmd)))
        except KitDefinitionChanged:
            rep.invalid += 1  # cannot happen when the definitions came from the same topic
            continue
        rep.kit_commands_replayed += 1
        if isinstance(kit_result, Invalid):
            rep.invalid += 1
        else:
            outcome(kit_result.status)
    await flush()
    rep.commands_replayed = len(plan.tail) - rep.invalid
    for cmd, pos in plan.own_only:  # grows seen and version; pos only forward (kit_own.lua)
        await kit_own_only(store.redis, cmd, pos)
    rep.kit_shares_restored = len(plan.own_only)
    phase("replay")
    rep.kits_defined = await _define_kits(store, kits, sorted(plan.kit_defs))
    rep.kit_components_shared = await _share_out_kits(store, kits, sorted(plan.kit_defs))
    phase("kits")


async def _restore_holds(
    store: RedisInventory,
    plan: _Plan,
    restored: Iterable[str],
    replayed_keys: Collection[tuple[str, str]],
) -> int:
    """Routed order lines' holds as of the levels (:mod:`inventory_adjuster.rebuild_holds`);
    the lines the replay moves start from them. A kit line's hold (its kits per location,
    issue #23) is a plain line's in the kit's slot, its story told by the kit's changes
    (placements, ``rereserved`` lines, routed releases and commits)."""
    holds, replace = plan.holds.holds(list(restored), replayed_keys, plan.tail_ids)
    for cmd, _ in plan.tail:
        if cmd.route is not None and cmd.order is not None:
            o = cmd.order
            replace.setdefault(cmd.sku, set()).add(hold_line(o.shop, o.order_id, o.line_id))
    return await restore_holds(store.redis, holds, replace, store.hold_ttl_s)


async def _define_kits(store: RedisInventory, kits: KitStore, candidates: list[str]) -> int:
    """Rebuild ``kit-defs`` / ``kit-index`` from the kit definitions now in the state hashes."""
    defined = 0
    for sku in candidates:  # every kit (also a per-SKU rebuild: kit-defs may be what was lost)
        raw = await store.redis.hget(state_key(sku), "kit")
        components = orjson.loads(raw) if raw else None
        if components:
            await kits.define(sku, {c: int(u) for c, u in components.items()})
            defined += 1
    return defined


async def _share_out_kits(store: RedisInventory, kits: KitStore, candidates: list[str]) -> int:
    """Split each kit's allocated components between direct sales and the kit again, as
    the handler does after a kit command (ADR 0040): their kit parts and hints are in no
    levels record, so after a restore a kit's share read 0 in every store until each
    component's own next change (never, for one sold only through the kit). Versions bumped
    here have no levels record of their own: the next command's carries them. How many
    components were looked at."""
    defs = await kits.definitions(candidates)
    comps = sorted({c for parts in defs.values() for c, _ in parts})
    if not comps or not store.shops:
        return 0
    await kits.start_allocation(comps)
    for location in sorted({loc for _, loc in await stocked_at(store, comps)}):
        await kits.shared_out(sorted(defs), location)  # as the handler, nothing published
    return len(comps)


# --- what a failover lost ---------------------------------------------------------------


@dataclass
class Detection:
    checked: int = 0  # SKUs with a levels record (in the slots asked for)
    keys_checked: int = 0  # idempotency keys looked up (TrustedLevels.settle)
    lost: list[str] = field(default_factory=list)  # behind their latest record
    reasons: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def behind(record: Restored, state: dict[str, str]) -> str | None:
    """Why Redis ``state`` (the SKU's state hash) lacks writes its latest levels record
    ``record`` shows; None when it does not. A record is published only after the script
    that produced it returned, and a script's writes replicate as one: a state behind the
    record lost acknowledged writes (an asynchronous replica promoted)."""
    if not state:
        return "no state in Redis"
    version = int(state.get("version") or 0)
    if version < record.version:
        return f"version {version} < {record.version}"
    p, _, o = state.get("pos", "").partition(":")
    if record.partition is not None and record.offset is not None and p == str(record.partition):
        if int(o) < record.offset:
            return f"pos {p}:{o} < {record.partition}:{record.offset}"
    for name, value in record.fields.items():
        if name.startswith(KIT_OFFSET_PREFIX) and int(state.get(name) or -1) < int(value):
            return f"{name} {state.get(name)} < {value}"
    return None


def sku_slot(sku: str) -> int:
    """The Redis Cluster hash slot of the SKU's keys (its ``{sku}`` tag)."""
    return key_slot(state_key(sku).encode())


def parse_slots(text: str) -> frozenset[int]:
    """``"0-5460,7000"`` -> those slots."""
    out: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, _, hi = part.partition("-")
        first, last = int(lo), int(hi or lo)
        if not 0 <= first <= last < 16384:
            raise ValueError(f"not a slot range: {part!r}")
        out.update(range(first, last + 1))
    return frozenset(out)


async def detect_lost(
    store: RedisInventory,
    bootstrap: str,
    *,
    levels_topic: str = INVENTORY_LEVELS,
    commands_topic: str = INVENTORY_COMMANDS,
    slots: Collection[int] | None = None,
    security: KafkaSecurity | None = None,
    chunk: int = 1000,
) -> Detection:
    """Every SKU (of ``slots``) whose Redis state is behind the levels record to trust
    (:class:`TrustedLevels`), or whose records show commands applied on a state that had lost
    writes (a lower version, a repeated one whose first command left no key in Redis, or any
    record whose command's key is missing: a lost refusal moves no version).
    Kafka is read first, then Redis, so a write applied meanwhile only puts Redis further
    ahead (and a key it writes is of a command published later, not the one looked up).
    Redis reads: one ``EXISTS`` per distinct (SKU, idempotency key) of the levels records
    younger than :data:`KEY_TTL_SHARE` of the key TTL and :data:`RETENTION_SHARE` of
    ``commands_topic``'s retention (:func:`key_window_ms`; each record after a SKU's first, and
    the first record of each version a later record repeated), none for a SKU whose version
    went back; one ``HGET`` per SKU with any; then one ``HGETALL`` per SKU; all pipelined in
    ``chunk``s. The records read are those compaction left (it keeps the last per SKU) and
    the uncompacted tail, so the lookups grow with the recent traffic, not the SKU count."""
    started = time.perf_counter()
    trusted = await _trusted_levels(store, bootstrap, commands_topic, security)

    def on_levels(records: Records) -> None:
        for r in records:
            if r.value is None:
                if r.key is not None:
                    trusted.drop(r.key.decode())
                continue
            parsed = parse_levels(r.value)
            if parsed is not None:
                trusted.take(*parsed, r.timestamp)

    await read_to_end(bootstrap, levels_topic, on_levels, security=security)
    latest = trusted.best
    wanted = set(slots) if slots is not None else None
    skus = sorted(s for s in latest if wanted is None or sku_slot(s) in wanted)
    await trusted.settle(store.redis, skus, chunk=chunk)
    found = Detection(checked=len(skus), keys_checked=trusted.keys_checked)
    for i in range(0, len(skus), chunk):
        part = skus[i : i + chunk]
        pipe = store.redis.pipeline(transaction=False)
        for sku in part:
            pipe.hgetall(state_key(sku))
        for sku, raw in zip(part, await pipe.execute(), strict=True):
            state = {as_text(k): as_text(v) for k, v in raw.items()}
            why = trusted.unrepaired(sku, state) or behind(latest[sku], state)
            if why is not None:
                found.lost.append(sku)
                found.reasons[sku] = why
    found.seconds = round(time.perf_counter() - started, 3)
    return found


class _Phases:
    def __init__(self, rep: Report) -> None:
        self.rep = rep
        self.mark = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.rep.phases_s[name] = round(now - self.mark, 3)
        self.mark = now


# --- the command line ---------------------------------------------------------------------


def build_store(settings: Settings, redis: Redis, group: str | None = None) -> RedisInventory:
    """The store as the service runs it (bootstrap builds it here too), so replayed
    commands compute shares the same way."""
    shops = (
        [s.shop for s in load_stores(settings.stores_file, frozenset()).stores]
        if settings.stores_file
        else []
    )
    allocation = DefaultAllocation(
        settings.allocation_units_per_store,
        settings.allocation_velocity,
        settings.allocation_window_s,
    )
    return RedisInventory(
        redis,
        group or settings.consumer_group,
        idem_ttl_s=settings.idempotency_ttl_s,
        ledger_max_len=settings.ledger_max_len,
        shops=shops,
        allocation=allocation if settings.default_allocation else None,
        hold_ttl_s=settings.hold_ttl_s,
    )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, rebuild, print the report as JSON."""
    settings = Settings()
    parser = argparse.ArgumentParser(
        prog="stocksync-inventory-rebuild",
        description="Rebuild inventory truth in Redis from inventory.levels.v1 and the tail "
        "of inventory.commands.v1. Stop inventory-adjuster first.",
    )
    parser.add_argument("--bootstrap", default=settings.kafka_bootstrap_servers)
    # None: STOCKSYNC_REDIS_URL (a password on a command line is visible to every user).
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--group", default=settings.consumer_group)
    parser.add_argument("--levels-topic", default=INVENTORY_LEVELS)
    parser.add_argument("--commands-topic", default=INVENTORY_COMMANDS)
    parser.add_argument("--changed-topic", default=INVENTORY_CHANGED)
    parser.add_argument("--batch", type=int, default=1000, help="commands per apply pipeline")
    parser.add_argument(
        "--force", action="store_true", help="rebuild even if Redis holds the group's offsets"
    )
    scope = parser.add_argument_group(
        "per SKU (after a Redis Cluster failover; the rest of Redis is left as it is)"
    )
    scope.add_argument("--skus", help="rebuild these SKUs only (comma-separated)")
    scope.add_argument(
        "--slots", help="rebuild the SKUs of these hash slots only (e.g. 0-5460,7000)"
    )
    scope.add_argument(
        "--detect",
        action="store_true",
        help="print the SKUs whose Redis state is behind their latest levels record (within "
        "--slots if given); rebuild nothing unless --repair",
    )
    scope.add_argument("--repair", action="store_true", help="with --detect: rebuild them")
    args = parser.parse_args(argv)
    if args.repair and not args.detect:
        parser.error("--repair goes with --detect")
    if args.skus and (args.slots or args.detect):
        parser.error("--skus names the SKUs: not with --slots or --detect")
    try:
        slots = parse_slots(args.slots) if args.slots else None
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=settings.log_level, stream=sys.stderr)

    async def run() -> dict[str, Any]:
        url = args.redis_url or settings.redis_url
        redis = connect_redis(url, ca_file=settings.redis_ca_file, timeout_s=None)
        try:
            store = build_store(settings, redis, args.group)
            out: dict[str, Any] = {}
            skus: Iterable[str] | None = None
            if args.skus:
                skus = [s for s in (x.strip() for x in args.skus.split(",")) if s]
            if args.detect:
                found = await detect_lost(
                    store,
                    args.bootstrap,
                    levels_topic=args.levels_topic,
                    commands_topic=args.commands_topic,
                    slots=slots,
                    security=settings.kafka_security,
                )
                out["detection"] = asdict(found)
                if not args.repair or not found.lost:
                    return out
                skus = found.lost
            report = await rebuild(
                store,
                args.bootstrap,
                levels_topic=args.levels_topic,
                commands_topic=args.commands_topic,
                changed_topic=args.changed_topic,
                batch=args.batch,
                force=args.force,
                security=settings.kafka_security,
                skus=None if skus is None else frozenset(skus),
                slots=slots if not args.detect else None,
            )
            return {**out, **asdict(report)}
        finally:
            await redis.aclose()

    try:
        result = asyncio.run(run())
    except RebuildError as exc:
        sys.stderr.write(f"rebuild refused: {exc}\n")
        return 2
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
