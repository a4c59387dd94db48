"""Redis and Kafka behind the small interfaces the intake needs."""
