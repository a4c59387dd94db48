"""The console's details (issue #25): what each page says is what the services know now, in
words, never a raw JSON shape."""

from __future__ import annotations

from unit.ops_console.fakes import FakeServices, console, log_in

PARENT = "parent-store.myshopify.com"


async def test_the_mapping_page_counts_the_mapping_as_it_is_and_lists_duplicates() -> None:
    services = FakeServices()
    services.answers[("shopify-sync", "GET", "/mapping/problems")] = {
        PARENT: {
            "problems": {
                "duplicates": {
                    "DUP-1": ["gid://shopify/ProductVariant/11", "gid://shopify/ProductVariant/12"]
                },
                "blank_variants": [],
            },
            "discovery": {"method": "paginated", "skus": 0, "at": 1_760_000_000.0},
            "mapped": 7,
        },
        "child-eu.myshopify.com": {
            "problems": {"duplicates": {}},
            "discovery": {"method": "bulk", "skus": 0, "at": 1_760_000_000.0},
            "mapped": 0,
        },
    }
    async with console(services) as (client, _):
        await log_in(client)
        page = (await client.get("/mapping")).text
        assert "7 SKUs mapped now" in page
        assert "(0 SKUs via" not in page and "found 0 SKUs by paginated read" in page
        assert "DUP-1 (variants 11, 12)" in page
        assert "{}" not in page and "<td>none</td>" in page
        filtered = (await client.get("/mapping?sku=NOPE")).text
        assert "DUP-1" not in filtered and "{}" not in filtered
