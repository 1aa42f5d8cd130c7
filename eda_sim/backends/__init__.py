"""Real brokers behind the same client and service code (Redis Streams today)."""
