"""A parent catalog edit through the running system: the simulator's products/* webhook,
webhook-receiver, Kafka, shopify-sync, and both child stores; child-eu keeps its own price
(``child_owned_fields`` in the stores file); the children's echoes of our writes are
recognised and cause no further write."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from stack import Stack
from support.poll import wait_for

pytestmark = pytest.mark.e2e

PARENT, EU, US = "parent-store.myshopify.com", "child-eu.myshopify.com", "child-us.myshopify.com"


def product(http: httpx.Client, stack: Stack, shop: str, sku: str) -> dict[str, Any] | None:
    r = http.get(f"{stack.url('shopify-sim')}/_sim/stores/{shop}/products/{sku}/payload")
    return r.json() if r.status_code == 200 else None


def titled(http: httpx.Client, stack: Stack, sku: str, title: str) -> bool:
    bodies = [product(http, stack, shop, sku) for shop in (EU, US)]
    return all(b is not None and b["title"] == title for b in bodies)


def edit(http: httpx.Client, stack: Stack, shop: str, seed: dict[str, Any], notify: bool) -> None:
    r = http.post(
        f"{stack.url('shopify-sim')}/_sim/stores/{shop}/products",
        params={"notify": str(notify).lower()},
        json=[seed],
    )
    assert r.status_code == 201, r.text


def product_sets(http: httpx.Client, stack: Stack, shop: str) -> int:
    r = http.get(
        f"{stack.url('shopify-sim')}/_sim/requests",
        params={"shop": shop, "operation_name": "ProductSetSync"},
    )
    return len(r.json())


def test_parent_edit_reaches_both_children_and_eu_keeps_its_price(
    http: httpx.Client, stack: Stack
) -> None:
    sku = f"CAT-{uuid.uuid4().hex[:8].upper()}"
    catalog = {"title": "E2E Shirt", "vendor": "Acme", "tags": ["e2e"]}
    edit(http, stack, PARENT, {"sku": sku, "price": "20.00", "catalog": catalog}, notify=True)
    wait_for("product in both children", lambda: titled(http, stack, sku, "E2E Shirt"), 90)

    edit(http, stack, EU, {"sku": sku, "price": "25.00"}, notify=False)  # EU's own price
    v2 = {"sku": sku, "price": "30.00", "catalog": {"title": "E2E Shirt v2"}}
    edit(http, stack, PARENT, v2, notify=True)
    wait_for("edit in both children", lambda: titled(http, stack, sku, "E2E Shirt v2"), 90)
    eu, us = product(http, stack, EU, sku), product(http, stack, US, sku)
    assert eu is not None and eu["variants"][0]["price"] == "25.00"
    assert us is not None and us["variants"][0]["price"] == "30.00"
    assert eu["tags"] == us["tags"] == "e2e"

    # Each write made the child send products/* back through the receiver; those echoes
    # are dropped, so each child saw exactly the two writes (create, update).
    until = time.monotonic() + 5
    while time.monotonic() < until:
        assert product_sets(http, stack, EU) <= 2
        assert product_sets(http, stack, US) <= 2
        time.sleep(0.2)
    assert product_sets(http, stack, EU) == 2
