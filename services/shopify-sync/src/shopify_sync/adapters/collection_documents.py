"""The GraphQL documents of collection propagation (ADR 0021), part of
``documents.ALL_DOCUMENTS`` so the schema test validates each against every configured API
version.

Writes use ``collectionCreate``/``collectionUpdate`` with ``input: CollectionInput`` (its
``ruleSet`` copies a smart collection's rules): valid from 2026-04 (where it is the only
argument) through 2026-10 (where ``collection:`` with ``sources`` is the newer form and
``input`` is deprecated but served). Membership of a custom collection is written with
``collectionAddProducts`` (synchronous, answers the collection) and
``collectionRemoveProducts`` (answers a job, polled with ``JobStatus`` until done: ADR 0038's
amendment), at most 250 products a call; Shopify marks both deprecated in favour of
``collectionUpdate`` with selections, and serves them.
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
METAFIELD_NODE = "namespace key type value"
# isPublished: published or scheduled; publishDate: when it was or is to be (ADR 0038's
# amendment: a future one is copied to the child as it is)
PUBLISHED_NODE = "isPublished publishDate publication { id catalog { title } }"
CHANNEL_NODE = "id catalog { title }"

# One collection with a first page of its metafields in the propagated namespace, of the
# sales channels it is published or scheduled on (``onlyPublished: false``) and of its
# products (their handles: products are matched across stores by handle, as product
# propagation does); the *Page queries below read the rest of each (connection_pages,
# ADR 0038).
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
      nodes {{ {METAFIELD_NODE} }} {PAGE_INFO}
    }}
    resourcePublications(first: $channels, onlyPublished: false) {{
      nodes {{ {PUBLISHED_NODE} }} {PAGE_INFO}
    }}
    products(first: $products) {{ nodes {{ id handle }} {PAGE_INFO} }}
  }}
}}
"""

COLLECTION_PRODUCTS_PAGE = f"""
query CollectionProductsPage($id: ID!, $first: Int!, $after: String) {{
  collection(id: $id) {{
    page: products(first: $first, after: $after) {{ nodes {{ id handle }} {PAGE_INFO} }}
  }}
}}
"""

COLLECTION_METAFIELDS_PAGE = f"""
query CollectionMetafieldsPage($id: ID!, $namespace: String!, $first: Int!, $after: String) {{
  collection(id: $id) {{
    page: metafields(first: $first, after: $after, namespace: $namespace) {{
      nodes {{ {METAFIELD_NODE} }} {PAGE_INFO}
    }}
  }}
}}
"""

COLLECTION_PUBLICATIONS_PAGE = f"""
query CollectionPublicationsPage($id: ID!, $first: Int!, $after: String) {{
  collection(id: $id) {{
    page: resourcePublications(first: $first, after: $after, onlyPublished: false) {{
      nodes {{ {PUBLISHED_NODE} }} {PAGE_INFO}
    }}
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
# channel in two stores has two ids and one title); page after page.
SALES_CHANNELS = f"""
query SalesChannels($first: Int!, $after: String) {{
  page: publications(first: $first, after: $after) {{ nodes {{ {CHANNEL_NODE} }} {PAGE_INFO} }}
}}
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

# Asynchronous: answers a job (polled with JobStatus until done); the moves apply in order,
# each position zero-based at the moment it applies. Only for a collection sorted MANUAL.
COLLECTION_REORDER_PRODUCTS = """
mutation CollectionReorderProductsSync($id: ID!, $moves: [MoveInput!]!) {
  collectionReorderProducts(id: $id, moves: $moves) {
    job { id done }
    userErrors { field message }
  }
}
"""

# An asynchronous mutation's job (a removal's or a reorder's), polled until done.
JOB_STATUS = """
query JobStatus($id: ID!) {
  job(id: $id) { id done }
}
"""
JOB_STATUS_COST = 1.0

COLLECTION_DOCUMENTS = {
    "CollectionForSync": COLLECTION_FOR_SYNC,
    "CollectionProductsPage": COLLECTION_PRODUCTS_PAGE,
    "CollectionMetafieldsPage": COLLECTION_METAFIELDS_PAGE,
    "CollectionPublicationsPage": COLLECTION_PUBLICATIONS_PAGE,
    "CollectionsPage": COLLECTIONS_PAGE,
    "ProductsByHandle": PRODUCTS_BY_HANDLE,
    "CollectionCreateSync": COLLECTION_CREATE,
    "CollectionUpdateSync": COLLECTION_UPDATE,
    "CollectionDeleteSync": COLLECTION_DELETE,
    "CollectionAddProductsSync": COLLECTION_ADD_PRODUCTS,
    "CollectionReorderProductsSync": COLLECTION_REORDER_PRODUCTS,
    "JobStatus": JOB_STATUS,
    "SalesChannels": SALES_CHANNELS,
    "PublishablePublishSync": PUBLISHABLE_PUBLISH,
    "PublishableUnpublishSync": PUBLISHABLE_UNPUBLISH,
    "CollectionRemoveProductsSync": COLLECTION_REMOVE_PRODUCTS,
}
COLLECTION_PAGE = 50  # products or collections a page: 2 + 50 x 2 points, far inside a bucket
# The first page of a collection's metafields and channels, read with it; the rest by page.
COLLECTION_METAFIELDS = 50
CHANNELS = 25
PUBLISHED_NODE_COST = 3  # resource publication, publication, catalog
CHANNEL_NODE_COST = 2  # publication, catalog
PRODUCT_NODE_COST = 1
