"""A full reconciliation compares with the compacted levels topic, then checks what it found
drifted against the read API before it counts: a kit's record on the topic is its own
hash's, not its availability (ADR 0008), so every store listing a kit looked drifted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import httpx
from pydantic import SecretStr

from shopify_sync.domain.drift import compare
from shopify_sync.domain.quantities import ItemKey
from shopify_sync.reconciler import Reconciler
from stocksync_common.events import Levels, SkuLevels
from stocksync_common.stores import Store, StoresConfig

SHOP = "a.myshopify.com"
STORE = Store(
    shop=SHOP,
    access_token=SecretStr("t" * 40),
    webhook_secret=SecretStr("s" * 40),
    locations={"wh-1": "gid://1"},
)


def levels(sku: str, version: int, available: int) -> SkuLevels:
    return SkuLevels(
        sku=sku, version=version, available=available,
        locations={"wh-1": Levels(on_hand=available, available=available)},
    )  # fmt: skip


class Live:
    """The read API's answers (``HttpTruth``'s shape): the SKUs asked, or a failure."""

    def __init__(self, answers: dict[str, SkuLevels], fail: bool = False) -> None:
        self.answers, self.fail = answers, fail
        self.asked: list[list[str]] = []

    async def snapshot(self, skus: Sequence[str] | None) -> dict[str, SkuLevels]:
        self.asked.append(list(skus or []))
        if self.fail:
            raise httpx.ConnectError("adjuster down")
        return {s: self.answers[s] for s in skus or [] if s in self.answers}


def reconciler(live: Live, limit: int = 500) -> Reconciler:
    unused = cast(Any, None)
    return Reconciler(StoresConfig(stores=[STORE]), unused, unused, unused, unused, live, limit)


# The topic says the kit has nothing (its own hash) and a plain SKU 5; the store shows the
# kit's availability, 42, and the plain SKU 7.
TOPIC = {"KIT": levels("KIT", 3, 0), "PLAIN": levels("PLAIN", 9, 5), "SAME": levels("SAME", 2, 4)}
SHOWN: dict[ItemKey, int | None] = {("KIT", "wh-1"): 42, ("PLAIN", "wh-1"): 7, ("SAME", "wh-1"): 4}
LISTED = {"KIT", "PLAIN", "SAME"}


async def confirmed(live: Live, limit: int = 500) -> list[tuple[str, int, int, int]]:
    report = compare(STORE, TOPIC, LISTED, SHOWN)
    report = await reconciler(live, limit)._confirmed(STORE, report, LISTED, SHOWN)
    return sorted((d.key[0], d.version, d.desired, d.found) for d in report.drift)


async def test_a_kit_the_read_api_shows_at_the_stores_level_is_not_drift() -> None:
    live = Live({"KIT": levels("KIT", 11, 42), "PLAIN": levels("PLAIN", 9, 5)})
    assert await confirmed(live) == [("PLAIN", 9, 5, 7)]  # real drift stays
    assert live.asked == [["KIT", "PLAIN"]]  # only what the topic found drifted


async def test_a_drift_the_read_api_confirms_is_corrected_from_its_newer_truth() -> None:
    live = Live({"KIT": levels("KIT", 11, 40), "PLAIN": levels("PLAIN", 12, 6)})
    assert await confirmed(live) == [("KIT", 11, 40, 42), ("PLAIN", 12, 6, 7)]


async def test_without_an_answer_the_topics_report_stands() -> None:
    assert await confirmed(Live({}, fail=True)) == [("KIT", 3, 0, 42), ("PLAIN", 9, 5, 7)]
    # a SKU the read API does not know keeps the topic's verdict
    assert await confirmed(Live({"PLAIN": levels("PLAIN", 9, 7)})) == [("KIT", 3, 0, 42)]


async def test_a_store_far_from_truth_is_not_checked_sku_by_sku() -> None:
    live = Live({"KIT": levels("KIT", 11, 42)})
    assert await confirmed(live, limit=1) == [("KIT", 3, 0, 42), ("PLAIN", 9, 5, 7)]
    assert live.asked == []
