"""The GraphQL documents of warehouse fulfilments (validated against the Admin schema by
tests/unit/shopify_sync/test_fulfillment_documents.py), and what each costs."""

from __future__ import annotations

ORDER_FULFILLMENT_ORDERS = """
query OrderFulfillmentOrders($id: ID!, $first: Int!, $lines: Int!) {
  order(id: $id) {
    id
    fulfillmentOrders(first: $first) {
      nodes {
        id
        status
        lineItems(first: $lines) {
          nodes {
            id
            sku
            remainingQuantity
          }
        }
      }
    }
  }
}
"""

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

# Where each open fulfillment order is assigned and which order line each of its lines is
# (fulfillment orders moved to where routing placed the units; ADR 0035), a page of
# fulfillment orders at a time, each with its first page of lines (the rest read with
# FULFILLMENT_ORDER_LINES_PAGE).
ORDER_FULFILLMENT_ORDERS_FOR_MOVE = """
query OrderFulfillmentOrdersForMove($id: ID!, $first: Int!, $lines: Int!, $after: String) {
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

# The next page of a fulfillment order's lines (one with more than MOVE_LINES_FIRST).
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
FULFILLMENT_LINES_FIRST = 50
# Objects 1, a connection 2 + first x node cost: order 1 + FOs 2 + 10 x (1 + 2 + 50).
ORDER_FULFILLMENT_ORDERS_COST = (
    1.0 + 2 + FULFILLMENT_ORDERS_FIRST * (1 + 2 + FULFILLMENT_LINES_FIRST)
)
FULFILLMENT_CREATE_COST = 10.0
MOVE_LINES_FIRST = 25
# order 1 + FOs 2 + 10 x (1 + assigned location and location 2 + lines 2 + 25 x (1 + 1))
ORDER_FULFILLMENT_ORDERS_FOR_MOVE_COST = (
    1.0 + 2 + FULFILLMENT_ORDERS_FIRST * (1 + 2 + 2 + MOVE_LINES_FIRST * 2)
)
FULFILLMENT_ORDER_MOVE_COST = 10.0
# fulfillment order 1 + lines 2 + 25 x (1 + 1); pageInfo is free
FULFILLMENT_ORDER_LINES_PAGE_COST = 1.0 + 2 + MOVE_LINES_FIRST * 2

FULFILLMENT_DOCUMENTS = {
    "OrderFulfillmentOrders": ORDER_FULFILLMENT_ORDERS,
    "CreateFulfillment": FULFILLMENT_CREATE,
    "OrderFulfillmentOrdersForMove": ORDER_FULFILLMENT_ORDERS_FOR_MOVE,
    "MoveFulfillmentOrder": FULFILLMENT_ORDER_MOVE,
    "FulfillmentOrderLinesPage": FULFILLMENT_ORDER_LINES_PAGE,
}
