"""The Shopify simulator reads StockSync's own stores file."""

from __future__ import annotations

from pathlib import Path

import pytest

from stocksync_sim.shopify.config import ConfigError, load_stores, parse_stores

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "stores.example.yaml"


def test_env_references_are_resolved() -> None:
    [store] = parse_stores(
        {
            "stores": [
                {
                    "shop": "A.myshopify.com",
                    "access_token": "env:TOKEN_A",
                    "webhook_secret": "env:SECRET_A",
                    "locations": {"wh-1": "gid://shopify/Location/1"},
                    "thresholds": {"ignored": True},
                }
            ]
        },
        environ={"TOKEN_A": "tok", "SECRET_A": "sec"},
    )
    assert (store.shop, store.access_token, store.webhook_secret) == (
        "a.myshopify.com",
        "tok",
        "sec",
    )
    assert (store.plan, store.api_version, store.bucket_size) == ("standard", "2026-10", 2000.0)


def test_missing_env_variable_is_named_without_values() -> None:
    raw = {
        "stores": [
            {"shop": "a.myshopify.com", "access_token": "env:NOPE", "webhook_secret": "s3cr3t"}
        ]
    }
    with pytest.raises(ConfigError, match="NOPE") as info:
        parse_stores(raw, environ={})
    assert "s3cr3t" not in str(info.value)


def test_invalid_plan_is_reported_without_secret_values() -> None:
    raw = {
        "stores": [
            {
                "shop": "a.myshopify.com",
                "access_token": "t0k3n",
                "webhook_secret": "x",
                "plan": "gold",
            }
        ]
    }
    with pytest.raises(ConfigError, match="plan") as info:
        parse_stores(raw, environ={})
    assert "t0k3n" not in str(info.value)


@pytest.mark.skipif(not EXAMPLE.is_file(), reason="config/stores.example.yaml not present")
def test_example_stores_file_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOCKSYNC_DEMO_PARENT_TOKEN", "tok")
    monkeypatch.setenv("STOCKSYNC_DEMO_PARENT_SECRET", "sec")
    stores = load_stores(EXAMPLE)
    parent = next(store for store in stores if store.role == "parent")
    assert parent.access_token == "tok"
    assert all(
        loc.startswith("gid://shopify/Location/") for s in stores for loc in s.locations.values()
    )
