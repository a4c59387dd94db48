"""StockSync shopify-sync service."""
