"""StockSync inventory-adjuster service."""
