from pathlib import Path

import pytest
from pydantic import ValidationError

from stocksync_common.stores import load_stores

EXAMPLE = Path(__file__).parents[3] / "config" / "stores.example.yaml"


def test_example_file_loads_with_env_references(monkeypatch):
    monkeypatch.setenv("STOCKSYNC_DEMO_PARENT_TOKEN", "tok")
    monkeypatch.setenv("STOCKSYNC_DEMO_PARENT_SECRET", "sec")
    cfg = load_stores(EXAMPLE)
    parent = cfg.by_shop("parent-store.myshopify.com")
    assert parent is not None
    assert parent.role == "parent"
    assert parent.access_token.get_secret_value() == "tok"
    assert parent.webhook_secrets() == [b"sec"]
    assert parent.graphql_url == "http://127.0.0.1:8090/admin/api/2026-10/graphql.json"
    us = cfg.by_shop("child-us.myshopify.com")
    assert us is not None and len(us.webhook_secrets()) == 2


def test_missing_env_reference_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    f = tmp_path / "s.yaml"
    f.write_text(
        "stores:\n  - shop: a.myshopify.com\n    access_token: env:NOPE_TOKEN\n"
        "    webhook_secret: x\n"
    )
    with pytest.raises(ValidationError, match="NOPE_TOKEN is not set"):
        load_stores(f)


def test_default_admin_url_is_the_shop(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("stores:\n  - shop: a.myshopify.com\n    access_token: t\n    webhook_secret: x\n")
    store = load_stores(f).stores[0]
    assert store.graphql_url == "https://a.myshopify.com/admin/api/2026-10/graphql.json"


def test_secrets_do_not_leak_in_repr(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(
        "stores:\n  - shop: a.myshopify.com\n    access_token: t0psecret\n    webhook_secret: x\n"
    )
    assert "t0psecret" not in repr(load_stores(f))


def test_duplicate_shop_is_refused(tmp_path):
    entry = "  - shop: a.myshopify.com\n    access_token: t\n    webhook_secret: x\n"
    f = tmp_path / "s.yaml"
    f.write_text("stores:\n" + entry + entry)
    with pytest.raises(ValidationError, match="listed twice"):
        load_stores(f)
