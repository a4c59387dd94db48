"""Every GraphQL document shopify-sync sends, and what each costs.

tests/unit/shopify_sync/test_documents_schema.py validates each entry of
:data:`ALL_DOCUMENTS` against Shopify's published Admin schema (and checks that inventory
mutations carry ``@idempotent``). Costs follow Shopify's published rules: objects 1, scalars
0, a connection 2 + first x (cost of a node), ``nodes(ids:)`` one node per id, a mutation 10.
The client learns the real ``requestedQueryCost`` from answers when it is higher. Page and
batch sizes are not fixed here: they fit each shop's bucket as learned (``mapping.fitted``).
"""

from __future__ import annotations

from collections.abc import Callable

from shopify_sync.adapters.collection_documents import COLLECTION_DOCUMENTS
from shopify_sync.adapters.connect_documents import CONNECT_DOCUMENTS

LEVEL_FIELDS = 'location { id } quantities(names: ["available"]) { name quantity }'

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

# A lowering a sale raced goes as a relative adjustment (``changeFromQuantity: null``): the
# delta composes with whatever the store sold meanwhile, so it cannot be raced (ADR 0044).
ADJUST_QUANTITIES = """
mutation AdjustInventoryQuantities(
  $input: InventoryAdjustQuantitiesInput!, $idempotencyKey: String!
) {
  inventoryAdjustQuantities(input: $input) @idempotent(key: $idempotencyKey) {
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

FIND_ITEMS_BY_SKU = f"""
query FindInventoryItems($first: Int!, $query: String!, $levels: Int!) {{
  inventoryItems(first: $first, query: $query) {{
    nodes {{
      id
      sku
      variant {{ id product {{ id }} }}
      inventoryLevels(first: $levels) {{ nodes {{ {LEVEL_FIELDS} }} }}
    }}
  }}
}}
"""

LEVELS_BY_ITEMS = """
query InventoryLevelsByItems($ids: [ID!]!, $locationId: ID!) {
  nodes(ids: $ids) {
    ... on InventoryItem {
      id
      inventoryLevel(locationId: $locationId) {
        quantities(names: ["available"]) { name quantity }
      }
    }
  }
}
"""

CATALOG_PAGE = f"""
query CatalogPage($first: Int!, $after: String, $levels: Int!) {{
  productVariants(first: $first, after: $after) {{
    nodes {{
      id
      sku
      product {{ id }}
      inventoryItem {{
        id
        inventoryLevels(first: $levels) {{ nodes {{ {LEVEL_FIELDS} }} }}
      }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

VARIANTS_COUNT = """
query VariantsCount($limit: Int) {
  productVariantsCount(limit: $limit) { count precision }
}
"""

# Run through bulkOperationRunQuery: no pagination arguments, every variant and level.
BULK_CATALOG_QUERY = f"""
{{
  productVariants {{
    edges {{
      node {{
        id
        sku
        product {{ id }}
        inventoryItem {{
          id
          inventoryLevels {{ edges {{ node {{ {LEVEL_FIELDS} }} }} }}
        }}
      }}
    }}
  }}
}}
"""

RUN_BULK_QUERY = """
mutation RunBulkQuery($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: false) {
    bulkOperation { id status }
    userErrors { code field message }
  }
}
"""

BULK_OPERATION = """
query BulkOperationStatus($id: ID!) {
  node(id: $id) {
    ... on BulkOperation { id status errorCode objectCount url partialDataUrl }
  }
}
"""

# Sent first to a shop whose bucket is not known yet: one point to learn the bucket before
# spending more (the answer's throttleStatus), so even a restart never meets THROTTLED.
SHOP_PROBE = """
query ShopProbe {
  shop { id }
}
"""

# Catalog propagation (domain.propagation): read a product whole, write it with productSet,
# its metafields with metafieldsSet, undo a creation with productDelete. A product may hold
# 2,048 variants (and any number of images and metafields): the first read takes a page of
# each connection sized to the bucket, the PRODUCT_*_PAGE queries the rest by cursor
# (product_read.ProductReader).
VARIANT_FIELDS = "id sku price selectedOptions { name value } inventoryItem { id }"
MEDIA_FIELDS = "... on MediaImage { image { url } }"
METAFIELD_FIELDS = "namespace key type value"
PAGE_INFO = "pageInfo { hasNextPage endCursor }"

PRODUCT_FOR_SYNC = f"""
query ProductForSync(
  $identifier: ProductIdentifierInput!, $namespace: String!, $variants: Int!, $media: Int!,
  $metafields: Int!
) {{
  productByIdentifier(identifier: $identifier) {{
    id
    handle
    title
    descriptionHtml
    vendor
    productType
    status
    tags
    updatedAt
    media(first: $media) {{ nodes {{ {MEDIA_FIELDS} }} {PAGE_INFO} }}
    variants(first: $variants) {{ nodes {{ {VARIANT_FIELDS} }} {PAGE_INFO} }}
    metafields(first: $metafields, namespace: $namespace) {{
      nodes {{ {METAFIELD_FIELDS} }} {PAGE_INFO}
    }}
  }}
}}
"""

PRODUCT_VARIANTS_PAGE = f"""
query ProductVariantsPage($id: ID!, $first: Int!, $after: String) {{
  product(id: $id) {{
    page: variants(first: $first, after: $after) {{ nodes {{ {VARIANT_FIELDS} }} {PAGE_INFO} }}
  }}
}}
"""

PRODUCT_MEDIA_PAGE = f"""
query ProductMediaPage($id: ID!, $first: Int!, $after: String) {{
  product(id: $id) {{
    page: media(first: $first, after: $after) {{ nodes {{ {MEDIA_FIELDS} }} {PAGE_INFO} }}
  }}
}}
"""

PRODUCT_METAFIELDS_PAGE = f"""
query ProductMetafieldsPage($id: ID!, $namespace: String!, $first: Int!, $after: String) {{
  product(id: $id) {{
    page: metafields(first: $first, after: $after, namespace: $namespace) {{
      nodes {{ {METAFIELD_FIELDS} }} {PAGE_INFO}
    }}
  }}
}}
"""

# Every variant listed (productSet deletes the ones left out): Shopify takes up to 2,048 in
# one synchronous call since 2024-07, at a cost of 10 + 0.2 a variant + 0.4 a metafield +
# 1.9 a file (product_set_cost). The answer carries no variant list: nothing reads it.
PRODUCT_SET = """
mutation ProductSetSync($identifier: ProductSetIdentifiers, $input: ProductSetInput!) {
  productSet(identifier: $identifier, input: $input, synchronous: true) {
    product {
      id
      handle
      updatedAt
    }
    userErrors { code field message }
  }
}
"""

PRODUCT_DELETE = """
mutation ProductDeleteSync($input: ProductDeleteInput!) {
  productDelete(input: $input, synchronous: true) {
    deletedProductId
    userErrors { field message }
  }
}
"""

METAFIELDS_SET = """
mutation MetafieldsSetSync($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { id namespace key }
    userErrors { code field message }
  }
}
"""

METAFIELDS_DELETE = """
mutation MetafieldsDeleteSync($metafields: [MetafieldIdentifierInput!]!) {
  metafieldsDelete(metafields: $metafields) {
    deletedMetafields { ownerId namespace key }
    userErrors { field message }
  }
}
"""

# Initial / full catalog sync (catalog_sync): the parent's (or a child's) products read by
# a bulk query; children written by a bulk mutation of PRODUCT_SET_BULK, its variables
# uploaded to a staged upload target first.
BULK_PRODUCTS_QUERY = """
{
  products {
    edges {
      node {
        id
        handle
        title
        descriptionHtml
        vendor
        productType
        status
        tags
        updatedAt
        media { edges { node { ... on MediaImage { image { url } } } } }
        variants { edges { node { id sku price selectedOptions { name value } } } }
        metafields(namespace: "catalog") { edges { node { namespace key type value } } }
      }
    }
  }
}
"""

PRODUCT_SET_BULK = """
mutation ProductSetBulk($identifier: ProductSetIdentifiers, $input: ProductSetInput!) {
  productSet(identifier: $identifier, input: $input) {
    product {
      id
      handle
      variants(first: 250) { nodes { id sku inventoryItem { id } } }
    }
    userErrors { code field message }
  }
}
"""

STAGED_UPLOADS_CREATE = """
mutation StagedUploadsCreate($input: [StagedUploadInput!]!) {
  stagedUploadsCreate(input: $input) {
    stagedTargets { url resourceUrl parameters { name value } }
    userErrors { field message }
  }
}
"""

RUN_BULK_MUTATION = """
mutation RunBulkMutation($mutation: String!, $stagedUploadPath: String!) {
  bulkOperationRunMutation(mutation: $mutation, stagedUploadPath: $stagedUploadPath) {
    bulkOperation { id status }
    userErrors { code field message }
  }
}
"""

ALL_DOCUMENTS = {
    "ShopProbe": SHOP_PROBE,
    "SetInventoryQuantities": SET_QUANTITIES,
    "AdjustInventoryQuantities": ADJUST_QUANTITIES,
    "FindInventoryItems": FIND_ITEMS_BY_SKU,
    "InventoryLevelsByItems": LEVELS_BY_ITEMS,
    "CatalogPage": CATALOG_PAGE,
    "VariantsCount": VARIANTS_COUNT,
    "BulkCatalogQuery": BULK_CATALOG_QUERY,
    "RunBulkQuery": RUN_BULK_QUERY,
    "BulkOperationStatus": BULK_OPERATION,
    "ProductForSync": PRODUCT_FOR_SYNC,
    "ProductVariantsPage": PRODUCT_VARIANTS_PAGE,
    "ProductMediaPage": PRODUCT_MEDIA_PAGE,
    "ProductMetafieldsPage": PRODUCT_METAFIELDS_PAGE,
    "ProductSetSync": PRODUCT_SET,
    "ProductDeleteSync": PRODUCT_DELETE,
    "MetafieldsSetSync": METAFIELDS_SET,
    "MetafieldsDeleteSync": METAFIELDS_DELETE,
    "BulkProductsQuery": BULK_PRODUCTS_QUERY,
    "ProductSetBulk": PRODUCT_SET_BULK,
    "StagedUploadsCreate": STAGED_UPLOADS_CREATE,
    "RunBulkMutation": RUN_BULK_MUTATION,
    **CONNECT_DOCUMENTS,
    **COLLECTION_DOCUMENTS,
}

MUTATION_COST = 10.0
LEVELS_PER_ITEM = 5  # locations read per item (stores here map a handful)
LEVEL_COST = 3  # level + location + quantities


def find_items_cost(first: int, levels: int = LEVELS_PER_ITEM) -> float:
    return 2 + first * (5 + LEVEL_COST * levels)


def catalog_page_cost(first: int, levels: int = LEVELS_PER_ITEM) -> float:
    return 2 + first * (5 + LEVEL_COST * levels)


def levels_by_items_cost(ids: int) -> float:
    return 3.0 * ids


# One node of each product connection (the node, and its objects).
VARIANT_NODE_COST = 3  # variant, selectedOptions, inventoryItem
MEDIA_NODE_COST = 2  # media, image
METAFIELD_NODE_COST = 1


def product_read_cost(first: int) -> float:
    """``ProductForSync`` taking ``first`` of each connection."""
    per_page = 3 * 2 + first * (VARIANT_NODE_COST + MEDIA_NODE_COST + METAFIELD_NODE_COST)
    return 1 + per_page


def page_cost(node_cost: int) -> Callable[[int], float]:
    """A ``Product*Page`` query of ``first`` nodes: the product, the connection, the nodes."""
    return lambda first: 1 + 2 + first * node_cost


def product_set_cost(variants: int, metafields: int, files: int) -> float:
    """Shopify's dynamic complexity of ``productSet`` (2025-10 changelog)."""
    return MUTATION_COST + 0.2 * variants + 0.4 * metafields + 1.9 * files
