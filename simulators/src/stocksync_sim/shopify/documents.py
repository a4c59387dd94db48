"""GraphQL documents of the kind StockSync sends, used in docs, examples and tests.

``tests/unit/simulators/test_sim_schema_documents.py`` validates every one of them against
Shopify's published schema, so they double as a reference for valid 2026-10 syntax.
"""

from __future__ import annotations

SET_QUANTITIES = """
mutation SetQuantities($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryAdjustmentGroup {
      id
      createdAt
      reason
      referenceDocumentUri
      changes { name delta quantityAfterChange item { id sku } location { id } }
    }
    userErrors { field message code }
  }
}
"""

ADJUST_QUANTITIES = """
mutation AdjustQuantities($input: InventoryAdjustQuantitiesInput!, $idempotencyKey: String!) {
  inventoryAdjustQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryAdjustmentGroup {
      id
      changes { name delta quantityAfterChange item { id sku } location { id } }
    }
    userErrors { field message code }
  }
}
"""

INVENTORY_ITEMS_BY_SKU = """
query InventoryItemsBySku($query: String!, $first: Int!, $locationId: ID!) {
  inventoryItems(first: $first, query: $query) {
    nodes {
      id
      sku
      inventoryLevel(locationId: $locationId) {
        id
        quantities(names: ["available", "on_hand"]) { name quantity }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

PRODUCT_VARIANTS_BY_SKU = """
query ProductVariantsBySku($query: String!, $first: Int!) {
  productVariants(first: $first, query: $query) {
    edges {
      cursor
      node { id sku inventoryQuantity inventoryItem { id } product { id title } }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

INVENTORY_LEVELS = """
query InventoryLevels($id: ID!, $first: Int!) {
  inventoryItem(id: $id) {
    id
    sku
    inventoryLevels(first: $first) {
      nodes {
        location { id name }
        quantities(names: ["available", "committed", "on_hand"]) { name quantity }
      }
    }
  }
}
"""

SHOP_AND_LOCATIONS = """
query ShopAndLocations {
  shop { id name myshopifyDomain currencyCode }
  locations(first: 50) { nodes { id name isActive } }
}
"""

EXAMPLES: dict[str, str] = {
    "SetQuantities": SET_QUANTITIES,
    "AdjustQuantities": ADJUST_QUANTITIES,
    "InventoryItemsBySku": INVENTORY_ITEMS_BY_SKU,
    "ProductVariantsBySku": PRODUCT_VARIANTS_BY_SKU,
    "InventoryLevels": INVENTORY_LEVELS,
    "ShopAndLocations": SHOP_AND_LOCATIONS,
}
