"""StockSync webhook-receiver service."""
