"""StockSync order-consumer service."""
