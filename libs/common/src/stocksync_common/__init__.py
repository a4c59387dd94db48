"""What every StockSync service shares: events, Kafka helpers, settings, logging, metrics, tracing.

Nothing here knows about one service in particular.
"""
