"""``stocksync-stores connect`` against the Shopify simulator over ASGI (no sync: that needs
Kafka and Redis, tests/integration/shopify_sync/test_stores_connect.py runs it): a missing
scope named and exit 1 with nothing subscribed, a mapping written into the stores file with
its comments kept, every consumed topic subscribed, a second run changing nothing, a dry run
changing nothing, and bad arguments exit 2."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from unit.simulators.shopify_harness import (
    CHILD,
    CHILD_CLIENT_ID,
    CHILD_CLIENT_SECRET,
    CHILD_TOKEN,
    PARENT,
    PARENT_TOKEN,
    ShopifySim,
    running_shopify,
)

from shopify_sync.settings import Settings
from shopify_sync.stores_cli import connect, main, parser
from stocksync_common.shopify_webhooks import subscribable

PUBLIC = "https://sync.example"
STORES = f"""# the merchant's comment stays
stores:
  - shop: {PARENT}
    role: parent
    admin_base_url: http://shopify.test
    access_token: {PARENT_TOKEN}
    webhook_secret: s1
  - shop: {CHILD}   # the new store
    admin_base_url: http://shopify.test
    access_token: {CHILD_TOKEN}
    webhook_secret: s2
"""


@pytest.fixture
async def shopify() -> AsyncIterator[ShopifySim]:
    async with running_shopify("on") as sim:
        yield sim


@pytest.fixture
def stores_file(tmp_path: Path) -> Path:
    path = tmp_path / "stores.yaml"
    path.write_text(STORES)
    return path


async def run(
    shopify: ShopifySim, path: Path, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, list[dict[str, Any]], str]:
    args = parser().parse_args(["connect", "--public-url", PUBLIC, "--no-sync", "--json", *argv])
    settings = Settings(stores_file=str(path), propagate_catalog=False, fulfil_shipments=False)
    code = await connect(args, settings, shopify.transport)
    out, err = capsys.readouterr()
    return code, [orjson.loads(line) for line in out.splitlines()], err


async def subscriptions(shopify: ShopifySim, shop: str) -> list[dict[str, str]]:
    found: list[dict[str, str]] = (
        await shopify.client.get(f"/_sim/stores/{shop}/webhook-subscriptions")
    ).json()
    return found


async def test_a_missing_scope_is_named_and_nothing_is_subscribed(
    shopify: ShopifySim, stores_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    granted = ["write_inventory", "read_products", "read_orders", "read_fulfillments"]
    await shopify.client.put(f"/_sim/stores/{CHILD}/access-scopes", json={"scopes": granted})
    code, [row], _ = await run(shopify, stores_file, capsys, "--store", CHILD)
    assert code == 1
    assert row["status"] == "missing_scopes" and "read_locations" in row["error"]
    assert row["missing_scopes"][0]["reason"].startswith("list the store's locations")
    assert await subscriptions(shopify, CHILD) == []
    assert stores_file.read_text() == STORES


async def test_a_child_with_propagation_needs_the_publications_scope(
    shopify: ShopifySim, stores_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Catalog propagation publishes the child's collections (publishablePublish:
    ``write_publications``): a child that granted everything else is refused until it grants
    that too; the simulator grants it by default, as every scope StockSync may use."""
    args = parser().parse_args(["connect", "--public-url", PUBLIC, "--no-sync", "--json",
                                "--store", CHILD, "--dry-run"])  # fmt: skip
    settings = Settings(stores_file=str(stores_file), propagate_catalog=True,
                        fulfil_shipments=False)  # fmt: skip
    assert await connect(args, settings, shopify.transport) == 0  # the simulator's defaults
    capsys.readouterr()
    granted = ["write_inventory", "write_products", "read_locations", "read_orders",
               "read_fulfillments"]  # fmt: skip
    await shopify.client.put(f"/_sim/stores/{CHILD}/access-scopes", json={"scopes": granted})
    code = await connect(args, settings, shopify.transport)
    [row] = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1 and row["status"] == "missing_scopes", row
    assert [m["any_of"] for m in row["missing_scopes"]] == [["write_publications"]]
    assert "publishablePublish" in row["missing_scopes"][0]["reason"]
    await shopify.client.put(
        f"/_sim/stores/{CHILD}/access-scopes", json={"scopes": [*granted, "write_publications"]}
    )
    assert await connect(args, settings, shopify.transport) == 0


async def test_connect_maps_subscribes_and_a_second_run_changes_nothing(
    shopify: ShopifySim, stores_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, [row], err = await run(shopify, stores_file, capsys, "--store", CHILD)
    assert code == 0, row
    assert row["status"] == "ok" and row["mapping"] == {"wh-1": "gid://shopify/Location/9"}
    assert sorted(row["subscriptions"]["created"]) == sorted(subscribable())
    assert "restart the running services" in err
    written = stores_file.read_text()
    assert written.startswith("# the merchant's comment stays") and "# the new store" in written
    child = yaml.safe_load(written)["stores"][1]
    assert child["locations"] == {"wh-1": "gid://shopify/Location/9"}
    subs = await subscriptions(shopify, CHILD)
    assert sorted(s["topic"] for s in subs) == sorted(subscribable())
    assert {s["uri"] for s in subs} == {f"{PUBLIC}/webhooks/shopify"}

    code, [again], _ = await run(shopify, stores_file, capsys, "--store", CHILD)
    assert code == 0 and again["mapping_changed"] is False
    assert again["subscriptions"]["created"] == [] and again["subscriptions"]["removed"] == []
    assert len(again["subscriptions"]["kept"]) == len(subscribable())
    assert await subscriptions(shopify, CHILD) == subs


async def test_a_dry_run_changes_nothing_and_prints_the_mapping(
    shopify: ShopifySim, stores_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, [row], err = await run(shopify, stores_file, capsys, "--store", CHILD, "--dry-run")
    assert code == 0 and len(row["subscriptions"]["created"]) == len(subscribable())
    assert '"wh-1": "gid://shopify/Location/9"' in err
    assert await subscriptions(shopify, CHILD) == []
    assert stores_file.read_text() == STORES


async def test_several_locations_need_a_map_and_get_no_webhooks(
    shopify: ShopifySim, stores_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, [row], _ = await run(shopify, stores_file, capsys, "--store", PARENT)
    assert code == 1 and row["status"] == "needs_mapping" and "--map" in row["error"]
    assert await subscriptions(shopify, PARENT) == []
    code, [row], _ = await run(
        shopify, stores_file, capsys, "--store", PARENT, "--map", "wh-1=gid://shopify/Location/1"
    )
    assert code == 0 and row["mapping"] == {"wh-1": "gid://shopify/Location/1"}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("stores: [", "stores file"),
        (STORES.replace("access_token: shpat_parent", "access_token: env:NO_SUCH_VAR_25"),
         "stores.0.access_token: Value error, environment variable NO_SUCH_VAR_25 is not set"),
    ],
)  # fmt: skip
def test_a_bad_stores_file_exits_2_naming_the_field_never_a_value(
    text: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace("webhook_secret: s2", "webhook_secret: very-secret-2"))
    monkeypatch.setenv("STOCKSYNC_STORES_FILE", str(path))
    assert main(["connect", "--public-url", PUBLIC]) == 2
    err = capsys.readouterr().err
    assert says in err and "very-secret-2" not in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["connect", "--store", "nope.myshopify.com", "--public-url", PUBLIC], "no store"),
        (["connect"], "--public-url"),
        (["connect", "--public-url", "http://sync.example"], "public URL must be https"),
        (["connect", "--public-url", PUBLIC, "--store", CHILD, "--map", "wh-1"], "INTERNAL="),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    argv: list[str], says: str, stores_file: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("STOCKSYNC_STORES_FILE", str(stores_file))
    monkeypatch.delenv("STOCKSYNC_PUBLIC_URL", raising=False)
    assert main(argv) == 2
    assert says in capsys.readouterr().err


async def test_connect_with_client_credentials_gets_its_own_token(
    shopify: ShopifySim, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("CHILD_APP_SECRET", CHILD_CLIENT_SECRET)
    path = tmp_path / "stores.yaml"
    path.write_text(
        f"stores:\n  - shop: {CHILD}\n    admin_base_url: http://shopify.test/shops/{CHILD}\n"
        f"    client_id: {CHILD_CLIENT_ID}\n    client_secret: env:CHILD_APP_SECRET\n"
        "    webhook_secret: s2\n"
    )
    code, [row], _ = await run(shopify, path, capsys, "--store", CHILD)
    assert code == 0, row
    assert sorted(s["topic"] for s in await subscriptions(shopify, CHILD)) == sorted(subscribable())
    stats = (await shopify.client.get("/_sim/stats")).json()[CHILD]
    assert stats["tokens_issued"] == 1  # one grant served every call of the run
