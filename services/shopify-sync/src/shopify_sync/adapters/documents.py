"""Every GraphQL document shopify-sync sends. Tests validate each against Shopify's schema."""

from __future__ import annotations

SET_QUANTITIES = """
mutation SetInventoryQuantities($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryAdjustmentGroup {
      id
    }
    userErrors {
      code
      field
      message
    }
  }
}
"""

FIND_ITEMS_BY_SKU = """
query FindInventoryItems($first: Int!, $query: String!, $locationId: ID!) {
  inventoryItems(first: $first, query: $query) {
    nodes {
      id
      sku
      inventoryLevel(locationId: $locationId) {
        quantities(names: ["available"]) {
          name
          quantity
        }
      }
    }
  }
}
"""

ALL_DOCUMENTS = {"SetInventoryQuantities": SET_QUANTITIES, "FindInventoryItems": FIND_ITEMS_BY_SKU}
