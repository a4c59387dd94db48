"""Adapters: Redis for order state and the SKU mapping."""
