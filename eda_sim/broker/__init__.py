"""The broker model: topics and partitions as append-only logs, retention, and the group coordinator.

What a Kafka cluster does on its side of the wire. Clients (:mod:`eda_sim.kafka`)
talk to it; nothing here imports the client or the service layer.
"""
