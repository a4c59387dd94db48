"""Shopify simulator: Admin GraphQL API (inventory subset), cost buckets, signed webhooks.

Run it with ``python -m stocksync_sim.shopify --stores-file FILE`` (see ``__main__``), or build
the ASGI app in tests with :func:`stocksync_sim.shopify.app.create_app`.
"""
