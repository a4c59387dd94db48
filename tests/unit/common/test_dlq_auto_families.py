"""The automatic replayer's checks: a dependency named ``<family>:<argument>`` is asked of
its family's check with the argument (shopify-sync's ``shopify-bucket:<shop>:<points>``,
ADR 0035 §4); its own check wins; an unknown family or a failing check is not healthy."""

from __future__ import annotations

from typing import cast

from stocksync_common.dlq.admin import DlqAdmin
from stocksync_common.dlq.auto import AutoReplayer


async def test_a_family_check_is_asked_with_the_argument() -> None:
    asked: list[str] = []

    async def bucket(argument: str) -> bool:
        asked.append(argument)
        return argument.endswith(":40")

    async def exact() -> bool:
        return False

    async def broken(_argument: str) -> bool:
        raise RuntimeError("probe failed")

    replayer = AutoReplayer(
        cast(DlqAdmin, object()),
        {"shopify-bucket:a.myshopify.com:40": exact},
        families={"shopify-bucket": bucket, "broken": broken},
    )
    assert await replayer.healthy("shopify-bucket:b.myshopify.com:40") is True
    assert await replayer.healthy("shopify-bucket:b.myshopify.com:49") is False
    assert asked == ["b.myshopify.com:40", "b.myshopify.com:49"]
    assert await replayer.healthy("shopify-bucket:a.myshopify.com:40") is False  # its own
    assert await replayer.healthy("broken:x") is False
    assert await replayer.healthy("unknown:x") is False  # left for a person
    assert await replayer.healthy("shopify-bucket") is False  # a family needs an argument
    assert await replayer.healthy("kafka") is True
