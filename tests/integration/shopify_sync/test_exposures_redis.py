"""The allocation gate's Redis script against the domain rule it runs, on a real Redis:
same grants for any records, and concurrent raises never spend the same room twice."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from shopify_sync.adapters.exposures import RedisExposures
from shopify_sync.domain.quantities import Exposure, Pending, grant, seen_of
from shopify_sync.ports import Claim
from stocksync_common.redis_client import connect

pytestmark = pytest.mark.integration
SHOPS = ["a.myshopify.com", "b.myshopify.com", "c.myshopify.com", "d.myshopify.com"]
LOCS = ["wh-1", "wh-2"]

records = st.dictionaries(
    st.tuples(st.sampled_from(SHOPS[1:]), st.sampled_from(LOCS)),
    st.builds(Exposure, st.integers(0, 30), st.integers(0, 10)),
    max_size=6,
)
counters = st.one_of(
    st.none(), st.dictionaries(st.sampled_from(SHOPS), st.integers(0, 15), max_size=4)
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    others=records,
    floor=st.integers(0, 10),
    extra=st.integers(0, 20),
    available=st.integers(-3, 40),
    seen=counters,
)
def test_the_script_grants_what_the_domain_rule_grants(
    redis_url: str,
    others: dict[tuple[str, str], Exposure],
    floor: int,
    extra: int,
    available: int,
    seen: dict[str, int] | None,
) -> None:
    async def run() -> None:
        sku = f"EXP-{uuid.uuid4().hex[:10]}"
        async with connect(redis_url) as redis:
            exposures = RedisExposures(redis)
            for (shop, loc), e in others.items():
                await exposures.put(shop, {(sku, loc): e})
            pending = Pending(1, floor + extra, available, True, seen_of(seen))
            claim = Claim((sku, "wh-1"), floor, floor + extra, 3, pending)
            (got,) = await exposures.claim(SHOPS[0], [claim])
            want = grant(floor, floor + extra, available, others, seen_of(seen), "wh-1")
            assert got == want
            # recorded as a claim, the floor beside it, until an answer confirms it
            assert (await exposures.of(SHOPS[0], [(sku, "wh-1")])) == {
                (sku, "wh-1"): Exposure(want, 3, floor)
            }

    asyncio.run(run())


async def test_concurrent_raises_never_spend_the_same_room_twice(redis: Redis) -> None:
    sku = f"EXP-{uuid.uuid4().hex[:10]}"
    exposures = RedisExposures(redis)
    pending = Pending(1, 10, 10, True, ())
    claims = [exposures.claim(shop, [Claim((sku, "wh-1"), 0, 10, 0, pending)]) for shop in SHOPS]
    granted = [g for (g,) in await asyncio.gather(*claims)]
    assert sum(granted) == 10 and max(granted) == 10
