"""StockSync ops console: server-rendered pages for merchants and support staff."""
