"""The internet-facing receiver never holds a store's Admin API token, and production
refuses example or short store secrets (the review's "secrets" finding). Built with each
service's own bootstrap, as it starts; nothing is connected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from order_consumer.bootstrap import build as build_order_consumer
from order_consumer.settings import Settings as OrderSettings
from stocksync_common.stores import WITHHELD, BadStoresFile
from webhook_receiver.bootstrap import build as build_receiver
from webhook_receiver.settings import Settings as ReceiverSettings

SHOP = "a.myshopify.com"
TOKEN = "shpat_" + "5b2d" * 8  # what an attacker inside the receiver would want
SECRET = "e41f" * 8
PRODUCTION: dict[str, Any] = {
    "environment": "production",
    "admin_token": "a7" * 16,
    "wms_webhook_secret": "c3" * 16,
    "allow_insecure_transport": True,  # transport is not what these tests are about
}


def stores_file(tmp_path: Path, token: str = "env:SEC_TEST_TOKEN", secret: str = SECRET) -> str:  # noqa: S107
    f = tmp_path / "stores.yaml"
    f.write_text(
        f"stores:\n  - shop: {SHOP}\n    access_token: {token}\n    webhook_secret: {secret}\n"
        "    locations:\n      wh-1: gid://shopify/Location/1\n"
    )
    return str(f)


async def test_the_receiver_never_reads_the_admin_api_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEC_TEST_TOKEN", TOKEN)  # even with the variable in its environment
    settings = ReceiverSettings(stores_file=stores_file(tmp_path), **PRODUCTION)
    c = build_receiver(settings)
    try:
        store = c.stores[SHOP]
        assert store.access_token is not None
        assert store.access_token.get_secret_value() == WITHHELD
        assert TOKEN not in repr(c.__dict__) and TOKEN.encode() not in b"".join(
            b"".join(s) for s in c.shop_secrets.values()
        )
        assert c.shop_secrets[SHOP] == [SECRET.encode()]
    finally:
        await c.producer.stop()  # built, never started
        for close in c.closers:
            await close()


async def test_order_consumer_reads_no_store_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SEC_TEST_TOKEN", raising=False)  # unset: not even looked up
    c = build_order_consumer(OrderSettings(stores_file=stores_file(tmp_path), **PRODUCTION))
    try:
        store = c.handler.stores.by_shop(SHOP)
        assert store is not None
        assert store.access_token is not None
        assert store.access_token.get_secret_value() == WITHHELD
        assert store.webhook_secrets() == [WITHHELD.encode()]
    finally:
        await c.producer.stop()  # built, never started
        await c.redis.aclose()


@pytest.mark.parametrize("secret", ["demo-child-eu-secret", "shortsecret", ""])
def test_production_refuses_a_placeholder_or_short_webhook_secret(
    tmp_path: Path, secret: str
) -> None:
    path = stores_file(tmp_path, secret=f'"{secret}"')
    with pytest.raises(BadStoresFile) as caught:
        build_receiver(ReceiverSettings(stores_file=path, **PRODUCTION))
    assert f"{SHOP} webhook_secret" in str(caught.value)
    assert not secret or secret not in str(caught.value)
