"""The simulator holds products as Shopify does (issue #23): up to 2,048 variants, read page
by page by cursor (``product(id:)``'s variants, media and metafields), variants without a SKU
(listed by ``productVariants``, never found by SKU), and Shopify's limits on a call
(``VARIANTS_OVER_LIMIT`` above 2,048 variants, at most 25 metafields a ``metafieldsSet``)."""

from __future__ import annotations

from typing import Any

from unit.simulators.shopify_harness import CHILD_TOKEN, ShopifySim
from unit.simulators.test_shopify_catalog import METAFIELDS, PRODUCT_SET

PAGE = """
query Page($id: ID!, $first: Int!, $after: String) {
  product(id: $id) {
    variants(first: $first, after: $after) {
      nodes { sku selectedOptions { value } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
VARIANTS = """
query Variants { productVariants(first: 10) { nodes { id sku } } }
"""


async def gql(shopify: ShopifySim, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    return await shopify.graphql(query, variables, token=CHILD_TOKEN)


def product(count: int, sku: str | None = "V") -> dict[str, Any]:
    values = [f"v{i:04d}" for i in range(count)]
    return {
        "handle": "big", "title": "Big",
        "productOptions": [{"name": "Size", "values": [{"name": v} for v in values]}],
        "variants": [
            {"optionValues": [{"optionName": "Size", "name": v}],
             "inventoryItem": {"sku": f"{sku}-{v}"} if sku else {}}
            for v in values
        ],
    }  # fmt: skip


async def test_a_product_of_2048_variants_is_read_page_by_page(shopify: ShopifySim) -> None:
    made = await gql(
        shopify, PRODUCT_SET, {"identifier": {"handle": "big"}, "input": product(2048)}
    )
    payload = made["data"]["productSet"]
    assert payload["userErrors"] == []
    seen: list[str] = []
    after = None
    while True:
        variables = {"id": payload["product"]["id"], "first": 250, "after": after}
        page = (await gql(shopify, PAGE, variables))["data"]["product"]["variants"]
        seen += [n["sku"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"V-v{i:04d}" for i in range(2048)]


async def test_more_than_2048_variants_are_refused(shopify: ShopifySim) -> None:
    made = await gql(
        shopify, PRODUCT_SET, {"identifier": {"handle": "big"}, "input": product(2049)}
    )
    errors = made["data"]["productSet"]["userErrors"]
    assert [e["code"] for e in errors] == ["VARIANTS_OVER_LIMIT"]


async def test_variants_without_a_sku_are_held_and_listed(shopify: ShopifySim) -> None:
    made = await gql(
        shopify, PRODUCT_SET, {"identifier": {"handle": "big"}, "input": product(3, None)}
    )
    assert made["data"]["productSet"]["userErrors"] == []
    listed = (await gql(shopify, VARIANTS, {}))["data"]["productVariants"]["nodes"]
    assert [n["sku"] for n in listed] == [None, None, None]
    assert len({n["id"] for n in listed}) == 3


async def test_metafields_set_takes_at_most_25(shopify: ShopifySim) -> None:
    made = await gql(shopify, PRODUCT_SET, {"identifier": {"handle": "big"}, "input": product(1)})
    owner = made["data"]["productSet"]["product"]["id"]
    fields = [{"ownerId": owner, "namespace": "catalog", "key": f"k{i}", "value": "x",
               "type": "single_line_text_field"} for i in range(26)]  # fmt: skip
    refused = (await gql(shopify, METAFIELDS, {"metafields": fields}))["data"]["metafieldsSet"]
    assert [e["code"] for e in refused["userErrors"]] == ["LESS_THAN_OR_EQUAL_TO"]
    taken = (await gql(shopify, METAFIELDS, {"metafields": fields[:25]}))["data"]["metafieldsSet"]
    assert taken["userErrors"] == [] and len(taken["metafields"]) == 25
