"""Fixtures for the simulator tests (helpers live in shopify_harness)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from unit.simulators.shopify_harness import ShopifySim, running_shopify


@pytest.fixture
async def shopify() -> AsyncIterator[ShopifySim]:
    async with running_shopify() as sim:
        yield sim
