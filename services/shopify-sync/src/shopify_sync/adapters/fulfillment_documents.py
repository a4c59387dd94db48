"""The GraphQL documents of warehouse fulfilments (validated against the Admin schema by
tests/unit/shopify_sync/test_fulfillment_documents.py), and what each costs."""

from __future__ import annotations

FULFILLMENT_CREATE = """
mutation CreateFulfillment($fulfillment: FulfillmentInput!, $message: String) {
  fulfillmentCreate(fulfillment: $fulfillment, message: $message) {
    fulfillment {
      id
      status
      trackingInfo(first: 10) {
        number
        company
        url
      }
    }
    userErrors {
      field
      message
    }
  }
}
"""

# An order's fulfillment orders, a page at a time, each with its first page of lines (the
# rest read with FULFILLMENT_ORDER_LINES_PAGE): where each is assigned, and each line's SKU
# and order line. Shipments fulfil by SKU; moves follow routing by order line (ADR 0035,
# ADR 0037 §1), never of one a fulfillment service holds (its requestStatus, ADR 0035 §3).
ORDER_FULFILLMENT_ORDERS = """
query OrderFulfillmentOrders($id: ID!, $first: Int!, $lines: Int!, $after: String) {
  order(id: $id) {
    id
    fulfillmentOrders(first: $first, after: $after) {
      pageInfo {
        hasNextPage
        endCursor
      }
      nodes {
        id
        status
        requestStatus
        assignedLocation {
          location {
            id
          }
        }
        lineItems(first: $lines) {
          pageInfo {
            hasNextPage
            endCursor
          }
          nodes {
            id
            sku
            remainingQuantity
            lineItem {
              id
            }
          }
        }
      }
    }
  }
}
"""

# The next page of a fulfillment order's lines (one with more than FULFILLMENT_LINES_FIRST).
FULFILLMENT_ORDER_LINES_PAGE = """
query FulfillmentOrderLinesPage($id: ID!, $first: Int!, $after: String) {
  fulfillmentOrder(id: $id) {
    id
    lineItems(first: $first, after: $after) {
      pageInfo {
        hasNextPage
        endCursor
      }
      nodes {
        id
        sku
        remainingQuantity
        lineItem {
          id
        }
      }
    }
  }
}
"""

FULFILLMENT_ORDER_MOVE = """
mutation MoveFulfillmentOrder(
  $id: ID!
  $newLocationId: ID!
  $fulfillmentOrderLineItems: [FulfillmentOrderLineItemInput!]
) {
  fulfillmentOrderMove(
    id: $id
    newLocationId: $newLocationId
    fulfillmentOrderLineItems: $fulfillmentOrderLineItems
  ) {
    movedFulfillmentOrder {
      id
      status
    }
    originalFulfillmentOrder {
      id
      status
    }
    userErrors {
      field
      message
    }
  }
}
"""

FULFILLMENT_ORDERS_FIRST = 10
FULFILLMENT_LINES_FIRST = 25
# Objects 1, a connection 2 + first x node cost (scalars and pageInfo free):
# order 1 + FOs 2 + 10 x (1 + assigned location and location 2 + lines 2 + 25 x (1 + 1))
ORDER_FULFILLMENT_ORDERS_COST = (
    1.0 + 2 + FULFILLMENT_ORDERS_FIRST * (1 + 2 + 2 + FULFILLMENT_LINES_FIRST * 2)
)
FULFILLMENT_CREATE_COST = 10.0
FULFILLMENT_ORDER_MOVE_COST = 10.0
# fulfillment order 1 + lines 2 + 25 x (1 + 1)
FULFILLMENT_ORDER_LINES_PAGE_COST = 1.0 + 2 + FULFILLMENT_LINES_FIRST * 2

FULFILLMENT_DOCUMENTS = {
    "OrderFulfillmentOrders": ORDER_FULFILLMENT_ORDERS,
    "CreateFulfillment": FULFILLMENT_CREATE,
    "MoveFulfillmentOrder": FULFILLMENT_ORDER_MOVE,
    "FulfillmentOrderLinesPage": FULFILLMENT_ORDER_LINES_PAGE,
}
