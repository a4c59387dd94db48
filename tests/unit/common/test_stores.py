from pathlib import Path

import pytest

from stocksync_common.stores import (
    ACCESS_TOKEN,
    WEBHOOK_SECRET,
    WITHHELD,
    BadStoresFile,
    load_stores,
)

EXAMPLE = Path(__file__).parents[3] / "config" / "stores.example.yaml"


def test_example_file_loads_with_env_references(monkeypatch):
    monkeypatch.setenv("STOCKSYNC_DEMO_PARENT_TOKEN", "tok")
    monkeypatch.setenv("STOCKSYNC_DEMO_PARENT_SECRET", "sec")
    cfg = load_stores(EXAMPLE)
    parent = cfg.by_shop("parent-store.myshopify.com")
    assert parent is not None
    assert parent.role == "parent"
    assert parent.access_token is not None
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
    with pytest.raises(BadStoresFile, match="NOPE_TOKEN is not set"):
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
    with pytest.raises(BadStoresFile, match="listed twice"):
        load_stores(f)


STRONG_TOKEN = "shpat_" + "7f3a" * 8
STRONG_SECRET = "9c1e" * 8


def _one_store(tmp_path: Path, token: str, secret: str, shop: str = "a.myshopify.com") -> Path:
    f = tmp_path / "s.yaml"
    f.write_text(
        f"stores:\n  - shop: {shop}\n    access_token: {token}\n    webhook_secret: {secret}\n"
    )
    return f


def test_a_service_reads_only_the_store_secrets_it_is_given(monkeypatch, tmp_path):
    """Least privilege: the webhook receiver is given webhook secrets only; the Admin API
    token stays unread (its variable need not even exist there) and reads as withheld."""
    monkeypatch.delenv("NOT_HERE_TOKEN", raising=False)
    monkeypatch.setenv("HOOK_SECRET", STRONG_SECRET)
    f = _one_store(tmp_path, "env:NOT_HERE_TOKEN", "env:HOOK_SECRET")
    store = load_stores(f, frozenset({WEBHOOK_SECRET})).stores[0]
    assert store.access_token is not None
    assert store.access_token.get_secret_value() == WITHHELD
    assert store.webhook_secrets() == [STRONG_SECRET.encode()]
    monkeypatch.setenv("NOT_HERE_TOKEN", STRONG_TOKEN)  # present, still not read
    store = load_stores(f, frozenset({WEBHOOK_SECRET})).stores[0]
    assert store.access_token is not None
    assert store.access_token.get_secret_value() == WITHHELD
    none = load_stores(f, frozenset()).stores[0]
    assert none.webhook_secrets() == [WITHHELD.encode()]
    given = load_stores(f, frozenset({ACCESS_TOKEN})).stores[0].access_token
    assert given is not None
    assert given.get_secret_value() == (STRONG_TOKEN)


@pytest.mark.parametrize(
    ("token", "secret", "named"),
    [
        ("shpat_demo_child_eu", STRONG_SECRET, "access_token"),  # the example file's value
        ("short", STRONG_SECRET, "access_token"),
        (STRONG_TOKEN, "demo-child-us-secret", "webhook_secret"),
        (STRONG_TOKEN, "tiny", "webhook_secret"),
    ],
)
def test_production_refuses_placeholder_and_short_store_secrets(tmp_path, token, secret, named):
    f = _one_store(tmp_path, token, secret)
    with pytest.raises(BadStoresFile) as caught:
        load_stores(f, environment="production")
    message = str(caught.value)
    assert f"a.myshopify.com {named}" in message
    assert token not in message and secret not in message
    load_stores(f)  # outside production: accepted as before


def test_production_checks_only_the_secrets_a_service_reads(tmp_path):
    f = _one_store(tmp_path, "short", STRONG_SECRET)
    stores = load_stores(f, frozenset({WEBHOOK_SECRET}), environment="production")
    assert stores.stores[0].webhook_secrets() == [STRONG_SECRET.encode()]


def test_an_error_in_the_file_never_prints_a_secret(tmp_path):
    f = _one_store(tmp_path, STRONG_TOKEN, STRONG_SECRET, shop="Not A Shop")
    with pytest.raises(BadStoresFile) as caught:
        load_stores(f)
    assert "stores.0.shop" in str(caught.value)
    assert STRONG_TOKEN not in str(caught.value) and STRONG_SECRET not in str(caught.value)


def _routing_file(tmp_path, routing):
    path = tmp_path / "stores.yaml"
    path.write_text(
        "stores:\n  - shop: r.myshopify.com\n    access_token: t\n    webhook_secret: s\n"
        f"    locations: {{wh-a: 'gid://shopify/Location/1'}}\n    routing: {routing}\n"
    )
    return path


def test_routing_rules_load_in_priority_order(tmp_path):
    cfg = load_stores(_routing_file(tmp_path, "{locations: [wh-b, wh-a], split: true}"))
    store = cfg.by_shop("r.myshopify.com")
    assert store is not None and store.routing is not None
    assert store.routing.locations == ("wh-b", "wh-a") and store.routing.split


@pytest.mark.parametrize(
    ("routing", "problem"),
    [
        ("{locations: [wh-a, wh-a]}", "distinct"),
        ("{locations: []}", "at least 1"),
        ("{locations: [wh-a], spilt: true}", "spilt"),
    ],
)
def test_bad_routing_rules_are_refused_with_the_reason(tmp_path, routing, problem):
    with pytest.raises(BadStoresFile, match=problem):
        load_stores(_routing_file(tmp_path, routing))


def _client_store(tmp_path: Path, access: str) -> Path:
    f = tmp_path / "stores.yaml"
    f.write_text(f"stores:\n  - shop: a.myshopify.com\n    webhook_secret: x\n{access}")
    return f


def test_client_credentials_instead_of_a_fixed_token(monkeypatch, tmp_path):
    monkeypatch.setenv("APP_CLIENT_SECRET", STRONG_SECRET)
    f = _client_store(tmp_path, "    client_id: app-1\n    client_secret: env:APP_CLIENT_SECRET\n")
    store = load_stores(f, frozenset({ACCESS_TOKEN}), "production").stores[0]
    assert store.access_token is None and store.client_id is not None
    assert store.client_secret is not None
    assert store.client_secret.get_secret_value() == STRONG_SECRET
    assert store.token_url == "https://a.myshopify.com/admin/oauth/access_token"
    # a service without the Admin API's secrets never reads them
    monkeypatch.delenv("APP_CLIENT_SECRET")
    withheld = load_stores(f, frozenset({WEBHOOK_SECRET})).stores[0]
    assert withheld.client_secret is not None
    assert withheld.client_secret.get_secret_value() == WITHHELD


@pytest.mark.parametrize(
    ("access", "problem"),
    [
        ("", "one of the two"),
        ("    access_token: t\n    client_id: a\n    client_secret: s\n", "one of the two"),
        ("    client_id: a\n", "go together"),
    ],
)
def test_a_store_gives_one_kind_of_admin_access(tmp_path, access, problem):
    with pytest.raises(BadStoresFile, match=problem):
        load_stores(_client_store(tmp_path, access))


def test_production_refuses_a_placeholder_client_secret(tmp_path):
    f = _client_store(tmp_path, "    client_id: app-1\n    client_secret: short\n")
    with pytest.raises(BadStoresFile, match="client_secret"):
        load_stores(f, frozenset({ACCESS_TOKEN}), "production")
