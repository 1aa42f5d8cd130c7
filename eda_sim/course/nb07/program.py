"""A read-process-write loop written against confluent-kafka's API, with and without transactions.

Everything here uses only names and signatures that ``confluent_kafka`` has:
the ``kafka`` argument is a module, ``eda_sim.kafka`` in the simulator or
``confluent_kafka`` against a real cluster, and nothing else is imported. The
loops are generators that ``yield`` the name of each step they finish, so a
test (or a notebook) can crash or pause an instance between any two steps;
against a real cluster drive them with ``for _ in loop: pass``.

``transactional_loop``: each batch of input records becomes one transaction
holding the output records *and* the input offsets
(``send_offsets_to_transaction``). A crash anywhere aborts or fences the whole
batch, so every input's output is committed exactly once.

``plain_loop``: the same work with an idempotent producer, a flush and then a
consumer commit: at-least-once. A crash after the flush and before the commit
writes the batch's outputs again when the next instance re-reads the inputs.

Example::

    from eda_sim import kafka
    sim = Simulation(seed=1)
    for topic in ("in", "out"):
        sim.create_topic(topic, partitions=1)
    consumer, producer = open_clients(kafka, sim.bootstrap_servers, group="doubler",
                                      transactional_id="doubler-0")
    for step in transactional_loop(kafka, consumer, producer, source="in", sink="out"):
        pass
"""

#: The points of one turn of the loop at which a test may stop an instance.
STEPS = ("polled", "produced", "offsets_sent", "committed")
PLAIN_STEPS = ("polled", "produced", "committed")


def open_clients(kafka, bootstrap_servers, *, group, transactional_id=None, extra=None):
    """A consumer of ``group`` and a producer; transactional when ``transactional_id`` is given.

    The producer is registered with ``init_transactions()`` *before* the
    consumer joins its group, so an older instance with the same id is fenced
    (and its open transaction aborted) before this one reads any offset.
    """
    extra = extra or {}
    producer_conf = {"bootstrap.servers": bootstrap_servers, "enable.idempotence": True}
    if transactional_id is not None:
        producer_conf["transactional.id"] = transactional_id
    producer_conf.update(extra.get("producer", {}))
    producer = kafka.Producer(producer_conf)
    if transactional_id is not None:
        producer.init_transactions(10.0)
    consumer_conf = {
        "bootstrap.servers": bootstrap_servers,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
    }
    consumer_conf.update(extra.get("consumer", {}))
    consumer = kafka.Consumer(consumer_conf)
    return consumer, producer


def double(message):
    """The processing step of the examples: one output per input, same key, value doubled."""
    return [(message.key(), str(2 * int(message.value())).encode())]


def next_offsets(kafka, messages):
    """The offsets to commit for ``messages``: per partition, the last one's offset + 1.

    Taken from the records processed rather than from ``position()``: a member
    evicted mid-batch may have lost its assignment, and the offsets must still
    name exactly what this transaction's outputs came from.
    """
    last = {}
    for m in messages:
        last[(m.topic(), m.partition())] = m.offset() + 1
    return [kafka.TopicPartition(t, p, o) for (t, p), o in sorted(last.items())]


def rewind(kafka, consumer):
    """Move the consumer back to its group's committed offsets, after an abort."""
    assigned = consumer.assignment()
    if not assigned:
        return
    for tp in consumer.committed(assigned, 10.0):
        if tp.offset < 0:
            tp.offset = kafka.OFFSET_BEGINNING
        consumer.seek(tp)


def transactional_loop(
    kafka, consumer, producer, *, source, sink, transform=double, batch=4, idle_polls=3
):
    """Read, process and write exactly once: outputs and input offsets commit in one transaction."""
    consumer.subscribe([source])
    idle = 0
    while idle < idle_polls:
        messages = [m for m in consumer.consume(batch, 1.0) if m.error() is None]
        if not messages:
            idle += 1
            continue
        idle = 0
        yield "polled"
        producer.begin_transaction()
        try:
            for message in messages:
                for key, value in transform(message):
                    producer.produce(sink, key=key, value=value)
            yield "produced"
            producer.send_offsets_to_transaction(
                next_offsets(kafka, messages), consumer.consumer_group_metadata()
            )
            yield "offsets_sent"
            producer.commit_transaction()
        except kafka.KafkaException as exc:
            if not exc.args[0].txn_requires_abort():
                raise  # fatal (fenced): this instance must stop; a new one takes over
            producer.abort_transaction()
            rewind(kafka, consumer)
            continue
        yield "committed"


def plain_loop(kafka, consumer, producer, *, source, sink, transform=double, batch=4, idle_polls=3):
    """The same loop without transactions: flush the outputs, then commit the inputs (at-least-once)."""
    consumer.subscribe([source])
    idle = 0
    while idle < idle_polls:
        messages = [m for m in consumer.consume(batch, 1.0) if m.error() is None]
        if not messages:
            idle += 1
            continue
        idle = 0
        yield "polled"
        for message in messages:
            for key, value in transform(message):
                producer.produce(sink, key=key, value=value)
        producer.flush(10.0)
        yield "produced"
        try:
            consumer.commit(asynchronous=False)
        except kafka.KafkaException:
            continue  # refused after a rebalance: the new owner repeats the batch
        yield "committed"
