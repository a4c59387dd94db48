"""The simulator's catalog: productSet, productByIdentifier, metafieldsSet, productDelete,
their products/* webhooks, the ``fail_mutations`` fault switch, and bulk mutations run
from a staged upload."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from unit.simulators.shopify_harness import CHILD, CHILD_TOKEN, ShopifySim

from stocksync_sim.shopify import bulk as sim_bulk

PRODUCT_SET = """
mutation Set($identifier: ProductSetIdentifiers, $input: ProductSetInput!) {
  productSet(identifier: $identifier, input: $input, synchronous: true) {
    product { id handle title status tags variants(first: 5) { nodes { id sku price } } }
    userErrors { code field message }
  }
}
"""
READ = """
query Read($identifier: ProductIdentifierInput!) {
  productByIdentifier(identifier: $identifier) {
    id handle title vendor status tags
    media(first: 5) { nodes { ... on MediaImage { image { url } } } }
    metafields(first: 5, namespace: "catalog") { nodes { key type value } }
    variants(first: 5) { nodes { sku price selectedOptions { name value } } }
  }
}
"""
METAFIELDS = """
mutation Meta($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) { metafields { key value } userErrors { code message } }
}
"""
DELETE = """
mutation Delete($input: ProductDeleteInput!) {
  productDelete(input: $input) { deletedProductId userErrors { message } }
}
"""
STAGE = """
mutation Stage($input: [StagedUploadInput!]!) {
  stagedUploadsCreate(input: $input) {
    stagedTargets { url resourceUrl parameters { name value } }
    userErrors { message }
  }
}
"""
RUN = """
mutation Run($mutation: String!, $path: String!) {
  bulkOperationRunMutation(mutation: $mutation, stagedUploadPath: $path) {
    bulkOperation { id status type url }
    userErrors { code message }
  }
}
"""
POLL = """
query Poll($id: ID!) { node(id: $id) { ... on BulkOperation { id status type url } } }
"""
SHIRT: dict[str, Any] = {
    "handle": "shirt",
    "title": "Shirt",
    "vendor": "Acme",
    "status": "DRAFT",
    "tags": ["summer", "cotton"],
    "files": [{"originalSource": "https://cdn.example.test/shirt.png"}],
    "productOptions": [{"name": "Size", "values": [{"name": "M"}]}],
    "variants": [
        {"optionValues": [{"optionName": "Size", "name": "M"}], "price": "20.00",
         "inventoryItem": {"sku": "SHIRT-M"}},
    ],
}  # fmt: skip


async def gql(shopify: ShopifySim, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    return await shopify.graphql(query, variables, token=CHILD_TOKEN)


async def topics_sent(shopify: ShopifySim, count: int) -> list[str]:
    for _ in range(500):
        if len(shopify.receiver.requests) >= count:
            break
        await asyncio.sleep(0.01)
    return [r.headers["X-Shopify-Topic"] for r in shopify.receiver.requests]


async def test_product_set_creates_reads_updates_and_sends_webhooks(shopify: ShopifySim) -> None:
    made = await gql(shopify, PRODUCT_SET, {"identifier": {"handle": "shirt"}, "input": SHIRT})
    payload = made["data"]["productSet"]
    assert payload["userErrors"] == []
    product = payload["product"]
    assert (product["handle"], product["title"], product["status"]) == ("shirt", "Shirt", "DRAFT")
    assert product["variants"]["nodes"][0]["sku"] == "SHIRT-M"
    read = (await gql(shopify, READ, {"identifier": {"handle": "shirt"}}))["data"]
    node = read["productByIdentifier"]
    assert node["media"]["nodes"] == [{"image": {"url": "https://cdn.example.test/shirt.png"}}]
    assert node["variants"]["nodes"][0]["selectedOptions"] == [{"name": "Size", "value": "M"}]
    again = {"identifier": {"id": product["id"]}, "input": {"title": "Shirt 2", "tags": ["x"]}}
    updated = (await gql(shopify, PRODUCT_SET, again))["data"]["productSet"]["product"]
    assert (updated["title"], updated["tags"], updated["id"]) == ("Shirt 2", ["x"], product["id"])
    assert await topics_sent(shopify, 2) == ["products/create", "products/update"]
    body = json.loads(shopify.receiver.requests[1].content)
    assert (body["title"], body["tags"], body["status"]) == ("Shirt 2", "x", "draft")
    assert body["variants"][0]["option1"] == "M"


async def test_metafields_and_delete(shopify: ShopifySim) -> None:
    made = await gql(shopify, PRODUCT_SET, {"identifier": {"handle": "shirt"}, "input": SHIRT})
    product_id = made["data"]["productSet"]["product"]["id"]
    field = {"ownerId": product_id, "namespace": "catalog", "key": "fabric",
             "type": "single_line_text_field", "value": "linen"}  # fmt: skip
    meta = (await gql(shopify, METAFIELDS, {"metafields": [field]}))["data"]["metafieldsSet"]
    assert meta == {"metafields": [{"key": "fabric", "value": "linen"}], "userErrors": []}
    read = (await gql(shopify, READ, {"identifier": {"id": product_id}}))["data"]
    assert read["productByIdentifier"]["metafields"]["nodes"][0]["value"] == "linen"
    gone = (await gql(shopify, DELETE, {"input": {"id": product_id}}))["data"]["productDelete"]
    assert gone == {"deletedProductId": product_id, "userErrors": []}
    assert (await gql(shopify, READ, {"identifier": {"id": product_id}}))["data"] == {
        "productByIdentifier": None
    }
    assert (await topics_sent(shopify, 2))[-1] == "products/delete"


async def test_fail_mutations_switch_fails_only_the_named_mutation(shopify: ShopifySim) -> None:
    r = await shopify.client.post(
        "/_sim/faults", json={"shop": CHILD, "fail_mutations": ["metafieldsSet"]}
    )
    assert r.status_code == 200
    made = await gql(shopify, PRODUCT_SET, {"identifier": {"handle": "shirt"}, "input": SHIRT})
    product_id = made["data"]["productSet"]["product"]["id"]
    field = {"ownerId": product_id, "namespace": "catalog", "key": "k",
             "type": "single_line_text_field", "value": "v"}  # fmt: skip
    failed = await gql(shopify, METAFIELDS, {"metafields": [field]})
    assert failed["data"]["metafieldsSet"] is None
    assert failed["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"


async def test_bulk_mutation_from_a_staged_upload(shopify: ShopifySim) -> None:
    spec = {"resource": "BULK_MUTATION_VARIABLES", "filename": "v.jsonl",
            "mimeType": "text/jsonl", "httpMethod": "POST"}  # fmt: skip
    staged = (await gql(shopify, STAGE, {"input": [spec]}))["data"]["stagedUploadsCreate"]
    target = staged["stagedTargets"][0]
    params = {p["name"]: p["value"] for p in target["parameters"]}
    lines = [
        {"identifier": {"handle": f"p{i}"},
         "input": dict(SHIRT, handle=f"p{i}", variants=[{"optionValues": [], "price": "5",
                                                          "inventoryItem": {"sku": f"B-{i}"}}])}
        for i in range(3)
    ]  # fmt: skip
    lines.append({"identifier": {"handle": "bad"}, "input": {"title": "no variant"}})
    jsonl = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    path = httpx.URL(target["url"]).path
    wrong = await shopify.client.post(path, data={"key": "nope"}, files={"file": ("v", jsonl)})
    assert wrong.status_code == 400
    up = await shopify.client.post(path, data=params, files={"file": ("v.jsonl", jsonl)})
    assert up.status_code == 201, up.text
    run = await gql(shopify, RUN, {"mutation": PRODUCT_SET, "path": params["key"]})
    op = run["data"]["bulkOperationRunMutation"]["bulkOperation"]
    assert (op["status"], op["type"]) == ("RUNNING", "MUTATION")  # runs in the background
    for _ in range(500):
        op = (await gql(shopify, POLL, {"id": op["id"]}))["data"]["node"]
        if op["status"] == "COMPLETED":
            break
        await asyncio.sleep(0.01)
    assert op["status"] == "COMPLETED"
    result = await shopify.client.get(httpx.URL(op["url"]).path)
    out = [json.loads(line) for line in result.content.splitlines()]
    assert [line["__lineNumber"] for line in out] == [0, 1, 2, 3]
    skus = [o["data"]["productSet"]["product"]["variants"]["nodes"][0]["sku"] for o in out[:3]]
    assert skus == ["B-0", "B-1", "B-2"]
    assert out[3]["data"]["productSet"]["userErrors"][0]["code"] == "INVALID"
    assert set(await shopify.inventory(CHILD)) == {"B-0", "B-1", "B-2"}


BULK_PRODUCTS = """
mutation RunQuery($query: String!) {
  bulkOperationRunQuery(query: $query) { bulkOperation { id status } userErrors { message } }
}
"""


async def test_large_bulk_query_is_read_in_slices_in_the_background(
    shopify: ShopifySim, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sim_bulk, "SLICE", 2)
    await shopify.seed(CHILD, [{"sku": f"S-{i}", "quantities": {}} for i in range(5)])
    query = "{ products { edges { node { id handle variants { edges { node { sku } } } } } } }"
    run = await gql(shopify, BULK_PRODUCTS, {"query": query})
    op = run["data"]["bulkOperationRunQuery"]["bulkOperation"]
    assert op["status"] == "RUNNING"  # the first slice was read; the rest is in the background
    for _ in range(500):
        op = (await gql(shopify, POLL, {"id": op["id"]}))["data"]["node"]
        if op["status"] == "COMPLETED":
            break
        await asyncio.sleep(0.01)
    assert op["status"] == "COMPLETED"
    lines = [
        json.loads(x)
        for x in (await shopify.client.get(httpx.URL(op["url"]).path)).content.splitlines()
    ]
    products = [line["handle"] for line in lines if "__parentId" not in line]
    assert products == [f"s-{i}" for i in range(5)]  # every slice, in order, once
    assert sorted(line["sku"] for line in lines if "__parentId" in line) == [
        f"S-{i}" for i in range(5)
    ]


def tee(*combos: tuple[str, str]) -> dict[str, Any]:
    return {
        "handle": "tee", "title": "Tee",
        "variants": [
            {"optionValues": [{"optionName": "Size", "name": s},
                              {"optionName": "Color", "name": c}],
             "price": f"{10 + i}.00", "inventoryItem": {"sku": f"T-{s}-{c}"}}
            for i, (s, c) in enumerate(combos)
        ],
    }  # fmt: skip


MF_DELETE = """
mutation MfDelete($metafields: [MetafieldIdentifierInput!]!) {
  metafieldsDelete(metafields: $metafields) {
    deletedMetafields { ownerId namespace key } userErrors { field message }
  }
}
"""


async def test_product_set_with_options_and_variants(shopify: ShopifySim) -> None:
    ident = {"identifier": {"handle": "tee"}}
    made = await gql(shopify, PRODUCT_SET, {**ident, "input": tee(("S", "Red"), ("S", "Blue"),
                                                                 ("M", "Red"))})  # fmt: skip
    assert made["data"]["productSet"]["userErrors"] == []
    read = (await gql(shopify, READ, ident))["data"]["productByIdentifier"]
    assert [(v["sku"], v["price"]) for v in read["variants"]["nodes"]] == [
        ("T-S-Red", "10.00"),
        ("T-S-Blue", "11.00"),
        ("T-M-Red", "12.00"),
    ]
    assert read["variants"]["nodes"][1]["selectedOptions"] == [
        {"name": "Size", "value": "S"},
        {"name": "Color", "value": "Blue"},
    ]
    before = await shopify.inventory(CHILD)
    # One variant removed (and its inventory item), one added; the others keep their items.
    edit = await gql(shopify, PRODUCT_SET, {**ident, "input": tee(("S", "Red"), ("L", "Red"))})
    assert edit["data"]["productSet"]["userErrors"] == []
    after = await shopify.inventory(CHILD)
    assert "T-S-Blue" in before and "T-S-Blue" not in after and "T-M-Red" not in after
    assert "T-L-Red" in after
    duplicate = tee(("S", "Red"), ("S", "Red"))
    refused = await gql(shopify, PRODUCT_SET, {**ident, "input": duplicate})
    assert refused["data"]["productSet"]["userErrors"][0]["code"] == "INVALID"
    four = {**tee(("S", "Red")), "productOptions": [{"name": n, "values": [{"name": "x"}]}
                                                   for n in "ABCD"]}  # fmt: skip
    refused = await gql(shopify, PRODUCT_SET, {**ident, "input": four})
    assert "at most 3 options" in refused["data"]["productSet"]["userErrors"][0]["message"]


async def test_metafields_delete(shopify: ShopifySim) -> None:
    made = await gql(shopify, PRODUCT_SET, {"identifier": {"handle": "tee"},
                                            "input": tee(("S", "Red"))})  # fmt: skip
    owner = made["data"]["productSet"]["product"]["id"]
    field = {"ownerId": owner, "namespace": "catalog", "key": "fabric"}
    await gql(shopify, METAFIELDS, {"metafields": [
        {**field, "type": "single_line_text_field", "value": "cotton"}]})  # fmt: skip
    out = await gql(shopify, MF_DELETE, {"metafields": [field, {**field, "key": "none"}]})
    assert out["data"]["metafieldsDelete"]["deletedMetafields"] == [field, None]
    read = await gql(shopify, READ, {"identifier": {"handle": "tee"}})
    assert read["data"]["productByIdentifier"]["metafields"]["nodes"] == []
    missing = {**field, "ownerId": "gid://shopify/Product/0"}
    out = await gql(shopify, MF_DELETE, {"metafields": [missing]})
    assert out["data"]["metafieldsDelete"]["userErrors"][0]["message"] == "Owner does not exist"
