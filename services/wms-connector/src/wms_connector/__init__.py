"""StockSync wms-connector service."""
