"""StockSync notifier service."""
