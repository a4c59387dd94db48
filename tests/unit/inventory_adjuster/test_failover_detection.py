"""What counts as a SKU behind its latest levels record (a failover's loss, ADR 0029), and
the slot ranges the rebuild takes."""

from __future__ import annotations

import pytest

from inventory_adjuster.rebuild import (
    Restored,
    TrustedLevels,
    behind,
    key_window_ms,
    parse_slots,
    sku_slot,
)


def record(version: int = 5, partition: int | None = 1, offset: int | None = 40,
           **fields: str | int) -> Restored:  # fmt: skip
    return Restored(version, partition, offset, {"version": version, **fields})


def test_a_state_at_or_ahead_of_its_record_is_not_behind() -> None:
    assert behind(record(), {"version": "5", "pos": "1:40"}) is None
    assert behind(record(), {"version": "7", "pos": "1:52"}) is None  # applied since
    # a record from another partition (a repartitioned topic): only the version speaks
    assert behind(record(), {"version": "6", "pos": "2:3"}) is None
    assert behind(record(partition=None, offset=None), {"version": "5"}) is None
    assert (
        behind(record(**{"kitoff|0": 9}), {"version": "5", "pos": "1:40", "kitoff|0": "9"}) is None
    )


def test_each_sign_of_a_lost_write_is_named() -> None:
    assert behind(record(), {}) == "no state in Redis"
    assert behind(record(), {"version": "4", "pos": "1:40"}) == "version 4 < 5"
    # a duplicate moves pos without a version: its loss shows in pos alone
    assert behind(record(), {"version": "5", "pos": "1:39"}) == "pos 1:39 < 1:40"
    # a rejected kit command stamps a component without a version bump
    why = behind(record(**{"kitoff|0": 9}), {"version": "5", "pos": "1:40", "kitoff|0": "8"})
    assert why == "kitoff|0 8 < 9"
    assert behind(record(**{"kitoff|0": 9}), {"version": "5", "pos": "1:40"}) is not None


def test_slot_ranges() -> None:
    assert parse_slots("0-2,7, 16383") == frozenset({0, 1, 2, 7, 16383})
    for bad in ("5-2", "16384", "-1", "a"):
        with pytest.raises(ValueError):
            parse_slots(bad)
    assert 0 <= sku_slot("SKU-1") < 16384
    assert sku_slot("SKU-1") == sku_slot("SKU-1") != sku_slot("SKU-2")


def test_a_version_going_back_freezes_the_record_to_trust_until_repaired() -> None:
    """Commands applied on a promoted replica that lacked writes publish lower versions; the
    record to restore is the best one before that, whatever climbs after it."""
    t = TrustedLevels()
    t.take("A", record(version=3, offset=10))
    t.take("A", record(version=4, offset=11))  # what the lost master acknowledged
    t.take("A", record(version=4, offset=5))  # a late duplicate of an old command: no sign
    assert "A" not in t.regressed
    t.take("A", record(version=3, offset=12))  # applied on the rolled-back state
    t.take("A", record(version=9, offset=13))  # climbing on it does not hide the loss
    assert t.best["A"].offset == 11 and t.at["A"] == "1:12"
    assert t.unrepaired("A", {"version": "9"}) == "version went back: 3 at 1:12 after 4 at 1:11"
    assert t.unrepaired("A", {"version": "9", "repaired": "1:12"}) is None
    t.take("B", record(version=2, offset=3))
    t.take("B", record(version=2, offset=4))  # a refused command: same version, no sign
    assert t.unrepaired("B", {}) is None and t.best["B"].offset == 4
    t.drop("A")
    assert "A" not in t.best and t.unrepaired("A", {}) is None


def keyed(version: int, offset: int, key: str | None) -> Restored:
    return Restored(version, 1, offset, {"version": version}, key)


def test_a_repeated_version_is_a_tie_for_redis_to_decide() -> None:
    """A later record with the version of the best before it comes from a refused command,
    or from a command applied on a state that lost the one that first reached that version:
    only that command's idempotency key in Redis can tell (``settle``). ``take`` notes one tie
    per version, with the key of the record that first reached it, and none for a command
    read again at its old position or a version first reached by a record with no key."""
    t = TrustedLevels(keep=lambda _sku: True)
    t.take("A", keyed(1, 1, "k1"), 100)
    t.take("A", keyed(2, 2, "k2"), 200)
    t.take("A", keyed(2, 2, "k2"), 250)  # the same command read again: not later
    t.take("A", keyed(2, 3, "k3"), 300)  # refused, or applied on a state that lost k2
    t.take("A", keyed(2, 4, "k4"), 400)  # the same version again: the same question
    t.take("A", keyed(3, 5, "k5"), 500)
    t.take("A", keyed(3, 1, "k1"), 550)  # a late duplicate of an old command
    t.take("A", keyed(4, 6, None), 600)  # a kit command's snapshot: no key to look up
    t.take("A", keyed(4, 7, "k7"), 700)
    assert [(x.version, x.key, x.ts_ms, x.at, x.trust.offset) for x in t.ties["A"]] == [
        (2, "k2", 200, "1:3", 2)
    ]
    assert "A" not in t.regressed and t.best["A"].offset == 7
    t.drop("A")
    assert "A" not in t.ties and not t.keeps("A")


def test_every_later_record_with_a_key_is_a_question_for_redis() -> None:
    """A refused, stale or duplicate command moves no version but writes its key: a loss of
    those alone shows only as a missing key. ``take`` notes each later record with a key and
    the record before it (the one to trust), none older than ``since_ms``, none read again at
    its old position, none with no key, and none after a version went back."""
    t = TrustedLevels(keep=lambda _sku: True, since_ms=150)
    t.take("A", keyed(1, 1, "k1"), 100)
    t.take("A", keyed(2, 2, "k2"), 140)  # older than since_ms: its key may have expired
    t.take("A", keyed(2, 3, "k3"), 200)  # refused
    t.take("A", keyed(2, 3, "k3"), 250)  # the same command read again: not later
    t.take("A", keyed(3, 4, None), 300)  # a kit command's snapshot: no key to look up
    t.take("A", keyed(4, 5, "k5"), 400)
    t.take("A", keyed(3, 6, "k6"), 500)  # version went back: a sign already
    t.take("A", keyed(4, 7, "k7"), 600)
    assert [(x.key, x.at, x.trust.offset, x.kept_at) for x in t.keyed["A"]] == [
        ("k3", "1:3", 2, 2),
        ("k5", "1:5", 4, 4),
    ]
    t.drop("A")
    assert "A" not in t.keyed


def test_the_key_window_ends_at_the_key_ttl_or_the_commands_retention_whichever_is_sooner() -> None:
    """Keys are asked for records from 90% of the key TTL ago, or from 90% of the commands
    topic's retention ago when that is later: a full rebuild re-marks only the keys of the
    commands the topic still holds (-1, unbounded, is None)."""
    day = 86_400_000
    now = 100 * day
    assert key_window_ms(30 * 86_400, None, now) == now - 27 * day
    assert key_window_ms(30 * 86_400, 14 * day, now) == now - int(14 * day * 0.9)
    assert key_window_ms(7 * 86_400, 14 * day, now) == now - int(7 * day * 0.9)


def test_a_components_levels_after_a_kit_command_follow_the_record_at_its_position() -> None:
    """A component's levels after a kit command keep the position of the component's own last
    command and add the kit command's stamp (``kitoff|<p>``): with the kit command's
    component key, they are a later record whose key Redis is asked for, and a record kept to
    restore from; the same levels read again (no more stamps) are not."""
    t = TrustedLevels(keep=lambda _sku: True)
    t.take("C", keyed(1, 1, "count"))
    snapshot = Restored(2, 1, 1, {"version": 2, "kitoff|0": 7}, "kit-1:component:C")
    assert snapshot.follows(keyed(1, 1, "count")) and not keyed(1, 1, "count").follows(snapshot)
    t.take("C", snapshot)
    t.take("C", snapshot)  # published again (a duplicate kit command): not later
    t.take("C", keyed(2, 2, "after"))  # applied on a state that lost the kit's move
    assert [(x.key, x.at, x.kept_at) for x in t.keyed["C"]] == [
        ("kit-1:component:C", "1:1", 1),
        ("after", "1:2", 2),
    ]
    assert [(x.key, x.version) for x in t.ties["C"]] == [("kit-1:component:C", 2)]
