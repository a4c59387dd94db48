"""Redis, Kafka, HTTP and SMTP adapters of the notifier."""
