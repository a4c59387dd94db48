"""The changes consumer parses an ``inventory.changed`` record narrowly (ADR 0041): orjson and
a hand check of the fields the changes handler reads, the same facts as the full pydantic
decode for every shape the adjuster writes; anything the narrow check cannot vouch for goes
through the full decode, so a malformed record is refused exactly as before (the loop
dead-letters it with pydantic's reason, naming the field), and every other event on the
topic is parsed in full."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiokafka.structs import TopicPartition
from pydantic import BaseModel, ValidationError
from unit.shopify_sync.fakes import MemorySyncState

from shopify_sync.bootstrap import service
from shopify_sync.domain.quantities import pending_for_store
from shopify_sync.handlers import ChangeRecorder
from shopify_sync.lanes import Lanes
from shopify_sync.narrow_changes import NarrowChanged, decode_changes
from shopify_sync.own_events import RejectedChange, SyncChangeRejected
from shopify_sync.own_events import decode as decode_full
from shopify_sync.settings import Settings
from stocksync_common.consumer import ConsumerLoop, Incoming
from stocksync_common.events import (
    InventoryChanged,
    KitComponent,
    KitPart,
    Levels,
    OrderLineRef,
    OrderOversold,
    OversoldLine,
    StockChange,
    encode,
)
from stocksync_common.runtime import consumer_loop
from stocksync_common.stores import Store, StoresConfig

A, B, C = "a.myshopify.com", "b.myshopify.com", "c.myshopify.com"
TOPIC = "inventory.changed.v1"


def _change(**fields: Any) -> StockChange:
    base: dict[str, Any] = {
        "sku": "TEE", "location": "wh-1", "command": "adjust", "idempotency_key": "k-1",
        "version": 7, "before": Levels(on_hand=10, available=10),
        "after": Levels(on_hand=12, available=12), "sku_available_before": 10,
        "sku_available_after": 12,
    }  # fmt: skip
    return StockChange(**{**base, **fields})


SPLIT = KitPart(units=2, shares={A: 1, B: 0})
# The shapes the adjuster writes (tests/integration/inventory_adjuster has each one made).
SHAPES: dict[str, StockChange] = {
    "adjust": _change(),
    "order line": _change(
        command="reserve",
        after=Levels(on_hand=12, reserved=1, available=11),
        sku_available_after=11,
        order=OrderLineRef(shop=A, order_id="o-1", line_id="l-1"),
        seen={A: 3, B: 0},
    ),  # fmt: skip
    "backordered": _change(
        command="reserve",
        after=Levels(on_hand=0, reserved=2, available=-2),
        sku_available_after=-2,
        backordered=True,
        seen={A: 5},
    ),  # fmt: skip
    "shares": _change(shares={A: 3, B: 0, C: 9}, seen={A: 1, C: 2}),
    "routed": _change(
        command="reserve",
        location="wh-2",
        routed={"wh-1": 2, "wh-2": 1},
        tried=["wh-1", "wh-2"],
        order=OrderLineRef(shop=B, order_id="o-2", line_id="l-9"),
    ),  # fmt: skip
    "rereserved": _change(
        command="adjust",
        rereserved=True,
        idempotency_key="reserve-key",
        order=OrderLineRef(shop=A, order_id="o-3", line_id="l-1"),
    ),  # fmt: skip
    "kit component": _change(
        sku="PART", kits=["KIT"], shares={A: 2, B: 1}, kit_parts={"KIT": SPLIT}, seen={A: 0}
    ),
    "kit component, empty part": _change(
        sku="PART", kits=["KIT"], shares={A: 2}, kit_parts={"KIT": KitPart(units=1)}
    ),
    "kit parts without shares": _change(sku="PART", kits=["KIT"], kit_parts={"KIT": SPLIT}),
    "kit": _change(
        sku="KIT",
        shares={A: 1, B: 4},
        kit_components={
            "PART": KitComponent(units=2, shares={A: 2}, kit_parts={"KIT": SPLIT}),
            "CAP": KitComponent(units=1),
        },
    ),  # fmt: skip
    "empty maps": _change(shares={}, seen={}, kit_parts={}, kit_components={}),
}
STORES = [
    Store.model_validate({
        "shop": shop, "access_token": "t", "webhook_secret": "s", "locations": locations
    })
    for shop, locations in ((A, {"wh-1": "L1"}), (B, {"wh-1": "L1", "wh-2": "L2"}), (C, {}))
]  # fmt: skip


def _wire(change: StockChange, **envelope: Any) -> bytes:
    return encode(InventoryChanged(source="inventory-adjuster", shop=A, payload=change, **envelope))


def _slotted(value: Any) -> bool:
    """One of the narrow decode's objects (named tuples)."""
    return isinstance(value, tuple) and hasattr(value, "_fields")


def _assert_same(narrow: Any, full: Any, path: str) -> None:
    """Every field of the narrow object equals the full decode's field of that name, down
    through nested objects and mappings."""
    if _slotted(narrow):
        for name in narrow._fields:
            _assert_same(getattr(narrow, name), getattr(full, name), f"{path}.{name}")
    elif isinstance(narrow, Mapping):
        assert isinstance(full, Mapping) and set(narrow) == set(full), path
        for key, value in narrow.items():
            _assert_same(value, full[key], f"{path}.{key}")
    else:
        assert type(narrow) is type(full) and narrow == full, path


def _narrow_fields(value: Any) -> Iterator[tuple[str, Any]]:
    """Every field of the narrow object, by its dotted path (through mappings' values)."""
    for name in value._fields:
        inner = getattr(value, name)
        yield name, inner
        if isinstance(inner, Mapping):
            for key, item in inner.items():
                if _slotted(item):
                    yield from ((f"{name}.{key}.{n}", v) for n, v in _narrow_fields(item))
        elif _slotted(inner):
            yield from ((f"{name}.{n}", v) for n, v in _narrow_fields(inner))


@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
def test_the_narrow_decode_has_the_full_decodes_facts(shape: str) -> None:
    wire = _wire(SHAPES[shape], correlation_id="corr-1")
    narrow, full = decode_changes(wire), decode_full(wire)
    assert isinstance(narrow, NarrowChanged) and isinstance(full, InventoryChanged)
    assert (narrow.type, narrow.correlation_id) == (full.type, full.correlation_id)
    _assert_same(narrow.payload, full.payload, "payload")
    for store in STORES:  # and the handler makes the same pending entries of both
        assert pending_for_store([narrow.payload], store) == pending_for_store(
            [full.payload], store
        )


class _Spy:
    """A full change that notes every attribute read of it (and of what it holds)."""

    def __init__(self, target: Any, path: str, reads: set[str]) -> None:
        self._target, self._path, self._reads = target, path, reads

    def __getattr__(self, name: str) -> Any:
        path = f"{self._path}{name}"
        self._reads.add(path)
        return _spied(getattr(self._target, name), f"{path}.", self._reads)


def _spied(value: Any, path: str, reads: set[str]) -> Any:
    if isinstance(value, BaseModel):
        return _Spy(value, path, reads)
    if isinstance(value, Mapping):
        return {k: _spied(v, f"{path}*.", reads) for k, v in value.items()}
    return value


@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
def test_the_handler_reads_nothing_the_narrow_decode_leaves_out(shape: str) -> None:
    """A field of ``StockChange`` the handler starts reading must join the narrow decode
    (mypy says so too: the handler is typed against ``ChangeFacts``)."""
    reads: set[str] = set()
    spy: Any = _Spy(SHAPES[shape], "", reads)
    for store in STORES:
        pending_for_store([spy], store)
    narrow = decode_changes(_wire(SHAPES[shape]))
    assert isinstance(narrow, NarrowChanged)
    known = {path for path, _ in _narrow_fields(narrow.payload)}
    wildcard = {".".join("*" if i == 1 else p for i, p in enumerate(k.split("."))) for k in known}
    wildcard |= {
        ".".join("*" if i in (1, 3) else p for i, p in enumerate(k.split("."))) for k in known
    }
    missing = {r for r in reads if r not in known | wildcard}
    assert reads and not missing


async def test_the_recorder_records_the_same_pending_of_either_decode() -> None:
    narrow_state, full_state = MemorySyncState(), MemorySyncState()
    stores = StoresConfig(stores=STORES)
    wires = [_wire(change) for change in SHAPES.values()]
    for state, decode in ((narrow_state, decode_changes), (full_state, decode_full)):
        items = [Incoming(Rec(w, offset=n), decode(w)) for n, w in enumerate(wires)]
        recorder = ChangeRecorder(stores, state, Lanes())
        await recorder.handle_many([(TopicPartition(TOPIC, 0), items)])
    assert narrow_state.pending_ and narrow_state.pending_ == full_state.pending_


def _with(change: StockChange, *edits: tuple[str, Any]) -> bytes:
    """The wire of ``change`` with payload fields replaced (``...``: removed); a dotted path
    reaches into a nested object."""
    doc = orjson.loads(_wire(change))
    for path, value in edits:
        *outer, last = ["payload", *path.split(".")]
        at = doc
        for part in outer:
            at = at[part]
        if value is ...:
            del at[last]
        else:
            at[last] = value
    return orjson.dumps(doc)


KIT = SHAPES["kit"]
COMPONENT = SHAPES["kit component"]
MALFORMED = {
    "version not a number": (_with(SHAPES["adjust"], ("version", "seven")), "payload.version"),
    "version a fraction": (_with(SHAPES["adjust"], ("version", 7.5)), "payload.version"),
    "sku a number": (_with(SHAPES["adjust"], ("sku", 5)), "payload.sku"),
    "location null": (_with(SHAPES["adjust"], ("location", None)), "payload.location"),
    "no sku": (_with(SHAPES["adjust"], ("sku", ...)), "payload.sku"),
    "no location": (_with(SHAPES["adjust"], ("location", ...)), "payload.location"),
    "no version": (_with(SHAPES["adjust"], ("version", ...)), "payload.version"),
    "no after": (_with(SHAPES["adjust"], ("after", ...)), "payload.after"),
    "after a number": (_with(SHAPES["adjust"], ("after", 3)), "payload.after"),
    "available a word": (
        _with(SHAPES["adjust"], ("after.available", "many")),
        "payload.after.available",
    ),
    "no sku_available_after": (
        _with(SHAPES["adjust"], ("sku_available_after", ...)),
        "payload.sku_available_after",
    ),
    "share a word": (_with(SHAPES["shares"], ("shares", {"n": "lots"})), "payload.shares.n"),
    "shares a list": (_with(SHAPES["shares"], ("shares", [1, 2])), "payload.shares"),
    "seen a word": (_with(SHAPES["shares"], ("seen", {"n": "x"})), "payload.seen.n"),
    "kit part of no units": (
        _with(COMPONENT, ("kit_parts", {"KIT": {"units": 0}})),
        "payload.kit_parts.KIT.units",
    ),
    "kit part without units": (
        _with(COMPONENT, ("kit_parts", {"KIT": {"shares": {}}})),
        "payload.kit_parts.KIT.units",
    ),
    "kit part share a word": (
        _with(COMPONENT, ("kit_parts", {"KIT": {"units": 1, "shares": {"n": "x"}}})),
        "payload.kit_parts.KIT.shares.n",
    ),
    "kit component's part a list": (
        _with(KIT, ("kit_components", {"PART": {"units": 2, "kit_parts": {"KIT": []}}})),
        "payload.kit_components.PART.kit_parts.KIT",
    ),
    "kit component without units": (
        _with(KIT, ("kit_components", {"PART": {"shares": {A: 1}}})),
        "payload.kit_components.PART.units",
    ),
    "payload a list": (b'{"type":"inventory.changed","source":"s","payload":[]}', "payload"),
    "correlation id a number": (
        orjson.dumps({**orjson.loads(_wire(SHAPES["adjust"])), "correlation_id": 5}),
        "correlation_id",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_a_malformed_change_is_refused_naming_the_field(case: str) -> None:
    wire, field = MALFORMED[case]
    with pytest.raises(ValidationError) as refused:
        decode_changes(wire)
    assert f"`inventory.changed`.{field}\n" in str(refused.value)


@pytest.mark.parametrize(
    "wire", [b"not json", b"", b"[]", b'"inventory.changed"', b'{"type":"no.such"}', b"{}"]
)
def test_what_is_not_an_event_is_refused(wire: bytes) -> None:
    with pytest.raises(ValidationError):
        decode_changes(wire)


def test_a_tombstone_is_refused() -> None:
    with pytest.raises(ValueError, match="tombstone"):
        decode_changes(None)


def test_what_pydantic_accepts_loosely_is_still_accepted() -> None:
    """Lax forms of a field the narrow check does not vouch for (a number as a string, a
    whole float) take the full decode, which accepts them as before."""
    wire = _with(SHAPES["shares"], ("version", "8"), ("shares", {A: 2.0}))
    event = decode_changes(wire)
    assert isinstance(event, InventoryChanged)
    assert event.payload.version == 8 and event.payload.shares == {A: 2}


def test_fields_the_handler_does_not_read_are_not_checked() -> None:
    """The decision of ADR 0041: a field nothing downstream of the handler reads is not
    validated any more (the adjuster writes every one of them through its pydantic model)."""
    wire = _with(SHAPES["adjust"], ("command", "bogus"), ("before", "x"), ("kits", 5))
    event = decode_changes(wire)
    assert isinstance(event, NarrowChanged) and event.payload.version == 7


def test_a_missing_correlation_id_is_a_new_one_as_pydantic_makes_it() -> None:
    doc = orjson.loads(_wire(SHAPES["adjust"]))
    del doc["correlation_id"]
    event = decode_changes(orjson.dumps(doc))
    assert isinstance(event, NarrowChanged)
    assert uuid.UUID(event.correlation_id).version == 4


def test_every_other_event_on_the_topic_is_parsed_in_full() -> None:
    rejected = SyncChangeRejected(
        source="shopify-sync", shop=A,
        payload=RejectedChange(shop=A, sku="TEE", location="wh-1", version=7, quantity=3),
    )  # fmt: skip
    oversold = OrderOversold(
        source="inventory-adjuster",
        payload=OversoldLine(
            sku="TEE", location="wh-1", requested=2, available=0, idempotency_key="k"
        ),
    )
    for event in (rejected, oversold):
        back = decode_changes(encode(event))
        assert type(back) is type(event) and back == event


@dataclass
class Rec:
    value: bytes | None
    topic: str = TOPIC
    partition: int = 0
    offset: int = 0
    timestamp: int = 0
    key: bytes | None = b"TEE"
    headers: Sequence[tuple[str, bytes]] = ()


async def _changes_loop(
    run: Callable[[ConsumerLoop], Any], dead: list[tuple[str, str]] | None = None
) -> Any:
    """The loop the runtime builds for the changes group (never started)."""
    settings = Settings(kafka_bootstrap_servers="127.0.0.1:1", admin_token="tok")
    [spec] = [c for c in service(settings).consumers if c.group == settings.consumer_group]
    handlers = SimpleNamespace(handle_batch=None, handle_many=None)
    container: Any = SimpleNamespace(changes=handlers)
    loop = consumer_loop(spec, container, settings, producer=Any)  # type: ignore[arg-type]

    async def dead_letter(_record: Any, exc: BaseException, attempts: int, reason: str) -> None:
        assert dead is not None and attempts == 1
        dead.append((reason, str(exc)))

    loop.dead_letter = dead_letter  # type: ignore[method-assign,assignment]
    try:
        return await run(loop)
    finally:
        await loop.consumer.stop()


async def test_the_changes_loop_parses_changes_narrowly_and_dead_letters_malformed_ones() -> None:
    dead: list[tuple[str, str]] = []
    good = _wire(SHAPES["kit"])
    bad, field = MALFORMED["kit part of no units"]

    async def run(loop: ConsumerLoop) -> list[Incoming]:
        return await loop._decode([Rec(good), Rec(bad, offset=1), Rec(None, offset=2)])

    incoming = await _changes_loop(run, dead)
    assert [type(i.event) for i in incoming] == [NarrowChanged]
    assert [reason for reason, _ in dead] == ["schema", "schema"]
    assert f"`inventory.changed`.{field}\n" in dead[0][1]
    assert "tombstone" in dead[1][1]
