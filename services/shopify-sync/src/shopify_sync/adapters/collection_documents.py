"""The GraphQL documents of collection propagation (ADR 0021), part of
``documents.ALL_DOCUMENTS`` so the schema test validates each against every configured API
version.

Writes use ``collectionCreate``/``collectionUpdate`` with ``input: CollectionInput`` (its
``ruleSet`` copies a smart collection's rules): valid from 2026-04 (where it is the only
argument) through 2026-10 (where ``collection:`` with ``sources`` is the newer form and
``input`` is deprecated but served). Membership of a custom collection is written with
``collectionAddProducts`` (synchronous, answers the collection) and
``collectionRemoveProducts`` (answers a job), at most 250 products a call; Shopify marks both
deprecated in favour of ``collectionUpdate`` with selections, and serves them.
"""

from __future__ import annotations

COLLECTION_FIELDS = """
    id
    handle
    title
    descriptionHtml
    sortOrder
    updatedAt
    image { url }
    seo { title description }
    ruleSet { appliedDisjunctively rules { column relation condition } }
"""
PAGE_INFO = "pageInfo { hasNextPage endCursor }"

# One collection, its metafields in the propagated namespace (one page) and a page of its
# products (their handles: products are matched across stores by handle, as product
# propagation does).
COLLECTION_FOR_SYNC = f"""
query CollectionForSync(
  $identifier: CollectionIdentifierInput!
  $products: Int!
  $metafields: Int!
  $namespace: String
  $channels: Int!
) {{
  collectionByIdentifier(identifier: $identifier) {{
    {COLLECTION_FIELDS}
    metafields(first: $metafields, namespace: $namespace) {{
      nodes {{ namespace key type value }}
    }}
    resourcePublications(first: $channels, onlyPublished: true) {{
      nodes {{ isPublished publication {{ id catalog {{ title }} }} }}
    }}
    products(first: $products) {{ nodes {{ id handle }} {PAGE_INFO} }}
  }}
}}
"""

COLLECTION_PRODUCTS_PAGE = f"""
query CollectionProductsPage($id: ID!, $first: Int!, $after: String) {{
  collection(id: $id) {{
    products(first: $first, after: $after) {{ nodes {{ id handle }} {PAGE_INFO} }}
  }}
}}
"""

# Every collection of a store, a page at a time (the full catalog sync and reconciliation).
COLLECTIONS_PAGE = f"""
query CollectionsPage($first: Int!, $after: String) {{
  collections(first: $first, after: $after) {{
    nodes {{ id handle }}
    {PAGE_INFO}
  }}
}}
"""

# The child's products with these handles (``handle:a OR handle:b``).
PRODUCTS_BY_HANDLE = """
query ProductsByHandle($first: Int!, $query: String!) {
  products(first: $first, query: $query) {
    nodes { id handle }
  }
}
"""

COLLECTION_CREATE = f"""
mutation CollectionCreateSync($input: CollectionInput!) {{
  collectionCreate(input: $input) {{
    collection {{ {COLLECTION_FIELDS} }}
    userErrors {{ field message }}
  }}
}}
"""

COLLECTION_UPDATE = f"""
mutation CollectionUpdateSync($input: CollectionInput!) {{
  collectionUpdate(input: $input) {{
    collection {{ {COLLECTION_FIELDS} }}
    userErrors {{ field message }}
  }}
}}
"""

COLLECTION_DELETE = """
mutation CollectionDeleteSync($input: CollectionDeleteInput!) {
  collectionDelete(input: $input) {
    deletedCollectionId
    userErrors { field message }
  }
}
"""

COLLECTION_ADD_PRODUCTS = """
mutation CollectionAddProductsSync($id: ID!, $productIds: [ID!]!) {
  collectionAddProducts(id: $id, productIds: $productIds) {
    collection { id }
    userErrors { field message }
  }
}
"""

COLLECTION_REMOVE_PRODUCTS = """
mutation CollectionRemoveProductsSync($id: ID!, $productIds: [ID!]!) {
  collectionRemoveProducts(id: $id, productIds: $productIds) {
    job { id done }
    userErrors { field message }
  }
}
"""

# The store's sales channels: publications, named by their catalog's title (the same
# channel in two stores has two ids and one title).
SALES_CHANNELS = """
query SalesChannels($first: Int!) {
  publications(first: $first) { nodes { id catalog { title } } }
}
"""

PUBLISHABLE_PUBLISH = """
mutation PublishablePublishSync($id: ID!, $input: [PublicationInput!]!) {
  publishablePublish(id: $id, input: $input) { userErrors { field message } }
}
"""

PUBLISHABLE_UNPUBLISH = """
mutation PublishableUnpublishSync($id: ID!, $input: [PublicationInput!]!) {
  publishableUnpublish(id: $id, input: $input) { userErrors { field message } }
}
"""

# Asynchronous: answers a job; the moves apply in order, each position zero-based at the
# moment it applies. Only for a collection sorted MANUAL.
COLLECTION_REORDER_PRODUCTS = """
mutation CollectionReorderProductsSync($id: ID!, $moves: [MoveInput!]!) {
  collectionReorderProducts(id: $id, moves: $moves) {
    job { id done }
    userErrors { field message }
  }
}
"""

COLLECTION_DOCUMENTS = {
    "CollectionForSync": COLLECTION_FOR_SYNC,
    "CollectionProductsPage": COLLECTION_PRODUCTS_PAGE,
    "CollectionsPage": COLLECTIONS_PAGE,
    "ProductsByHandle": PRODUCTS_BY_HANDLE,
    "CollectionCreateSync": COLLECTION_CREATE,
    "CollectionUpdateSync": COLLECTION_UPDATE,
    "CollectionDeleteSync": COLLECTION_DELETE,
    "CollectionAddProductsSync": COLLECTION_ADD_PRODUCTS,
    "CollectionReorderProductsSync": COLLECTION_REORDER_PRODUCTS,
    "SalesChannels": SALES_CHANNELS,
    "PublishablePublishSync": PUBLISHABLE_PUBLISH,
    "PublishableUnpublishSync": PUBLISHABLE_UNPUBLISH,
    "CollectionRemoveProductsSync": COLLECTION_REMOVE_PRODUCTS,
}
COLLECTION_PAGE = 50  # products or collections a page: 2 + 50 x 2 points, far inside a bucket
COLLECTION_METAFIELDS = 50  # a collection's metafields read in the namespace (one page)
CHANNELS = 25  # sales channels read (a store's, a collection's): one page
