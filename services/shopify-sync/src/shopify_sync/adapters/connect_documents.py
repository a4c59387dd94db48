"""The GraphQL documents of connecting a store (``stocksync-stores connect``): the scopes the
token was granted, the store's locations, and the app's webhook subscriptions (list, create,
update, delete). Listed in ``documents.ALL_DOCUMENTS``, so each is validated against the
Admin schema like every other document. Subscriptions use ``uri`` (``callbackUrl`` is
deprecated from 2025-04 on)."""

from __future__ import annotations

ACCESS_SCOPES = """
query GrantedAccessScopes {
  currentAppInstallation {
    accessScopes { handle }
  }
}
"""

LOCATIONS = """
query StoreLocations($first: Int!, $after: String) {
  locations(first: $first, after: $after, includeInactive: false) {
    nodes { id name isActive fulfillsOnlineOrders }
    pageInfo { hasNextPage endCursor }
  }
}
"""

SUBSCRIPTION_FIELDS = "id topic uri format"

WEBHOOK_SUBSCRIPTIONS = f"""
query WebhookSubscriptions($first: Int!, $after: String) {{
  webhookSubscriptions(first: $first, after: $after) {{
    nodes {{ {SUBSCRIPTION_FIELDS} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

SUBSCRIPTION_CREATE = f"""
mutation WebhookSubscriptionCreate(
  $topic: WebhookSubscriptionTopic!, $subscription: WebhookSubscriptionInput!
) {{
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $subscription) {{
    webhookSubscription {{ {SUBSCRIPTION_FIELDS} }}
    userErrors {{ field message }}
  }}
}}
"""

SUBSCRIPTION_UPDATE = f"""
mutation WebhookSubscriptionUpdate($id: ID!, $subscription: WebhookSubscriptionInput!) {{
  webhookSubscriptionUpdate(id: $id, webhookSubscription: $subscription) {{
    webhookSubscription {{ {SUBSCRIPTION_FIELDS} }}
    userErrors {{ field message }}
  }}
}}
"""

SUBSCRIPTION_DELETE = """
mutation WebhookSubscriptionDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) {
    deletedWebhookSubscriptionId
    userErrors { field message }
  }
}
"""

PAGE = 100  # locations or subscriptions per page
# Objects 1, a connection 2 + first x node cost (a subscription or location is one object).
ACCESS_SCOPES_COST = 2.0
PAGE_COST = 2.0 + PAGE * 1

CONNECT_DOCUMENTS = {
    "GrantedAccessScopes": ACCESS_SCOPES,
    "StoreLocations": LOCATIONS,
    "WebhookSubscriptions": WEBHOOK_SUBSCRIPTIONS,
    "WebhookSubscriptionCreate": SUBSCRIPTION_CREATE,
    "WebhookSubscriptionUpdate": SUBSCRIPTION_UPDATE,
    "WebhookSubscriptionDelete": SUBSCRIPTION_DELETE,
}
