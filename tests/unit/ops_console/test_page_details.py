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


async def test_the_ledger_shows_when_each_entry_was_applied_and_pages_back() -> None:
    services = FakeServices()
    services.answers[("inventory-adjuster", "GET", "/inventory/SKU-1/ledger")] = {
        "sku": "SKU-1",
        "entries": [
            {"id": "1760000000000-0", "command": "set_on_hand", "quantity": "10"},
            {"id": "1760000061000-3", "command": "reserve", "quantity": "2"},
        ],
        "next": "1760000000000-0",
    }
    async with console(services) as (client, _):
        await log_in(client)
        page = (await client.get("/stock?sku=SKU-1")).text
        ledger = page[page.index('<table class="ledger">') :]
        assert "<th>time (UTC)</th>" in ledger
        # newest first, each with the time the adjuster applied it (the entry id's clock)
        assert ledger.index("2025-10-09 08:54:21 UTC") < ledger.index("2025-10-09 08:53:20 UTC")
        assert 'href="/stock?sku=SKU-1&amp;before=1760000000000-0"' in page
        (first,) = services.calls("inventory-adjuster", "GET", "/inventory/SKU-1/ledger")
        assert "before" not in first.url.params

        older = (await client.get("/stock?sku=SKU-1&before=1760000000000-0")).text
        (_, second) = services.calls("inventory-adjuster", "GET", "/inventory/SKU-1/ledger")
        assert second.url.params["before"] == "1760000000000-0"
        assert 'href="/stock?sku=SKU-1">Newest entries' in older

        bad = (await client.get("/stock?sku=SKU-1&before=yesterday")).text
        assert 'role="alert"' in bad and "not a ledger entry id" in bad
        assert len(services.calls("inventory-adjuster", "GET", "/inventory/SKU-1/ledger")) == 2
