"""The Redis Streams backend: the course's clients and services on a real broker.

:mod:`.backend` holds the Kafka-shaped producer, consumer and service runner on
Redis Streams; :mod:`.server` starts a throwaway ``redis-server`` for tests,
benchmarks and notebook 16.
"""
