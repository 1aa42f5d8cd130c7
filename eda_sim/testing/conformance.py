"""Conformance programs: small confluent-kafka programs run on the simulator and on a real broker.

Each program is written once against confluent-kafka's API and receives the
client module it runs on (``eda_sim.kafka`` or ``confluent_kafka``) inside a
:class:`Target`. It returns what a program can observe (partitions chosen,
offsets, values received, committed offsets, positions, assignments, error
names) as plain data, so the two runs compare with ``==``.

Waiting is written as polling with a timeout, which both clients have: on the
simulator ``poll(t)`` advances the virtual clock by at most ``t``; on a real
broker it waits up to ``t`` seconds.

:data:`PROGRAMS` names every program with its parameters; :func:`run_simulated`
runs one on a fresh simulation and :func:`run_real` runs them all at once
(in threads, each on its own topics and groups) against a real broker, such as
the Tansu broker that :mod:`eda_sim.backends.tansu` starts.

Where Tansu itself departs from Apache Kafka, :data:`TANSU_DEVIATIONS` says how
and gives what Kafka's documentation promises instead; the tests compare the
simulator with that.

Example::

    from eda_sim.testing.conformance import PROGRAMS, run_simulated

    run_simulated("commit_and_resume")["first_offset_after_resume"]   # 6
"""

from __future__ import annotations

import types
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

#: Keys used for placement checks: the first nine are notebook 03's users.
KEYS = [f"user-{i}" for i in range(20)]


@dataclass(frozen=True)
class Target:
    """Where a program runs: a client module, its bootstrap servers, and a name prefix.

    ``group_conf`` holds consumer settings this broker allows that make a
    program faster (a short session timeout on Tansu, whose group joins wait on
    it), and nothing that changes what the program observes.
    """

    k: types.SimpleNamespace
    bootstrap: str
    prefix: str
    group_conf: dict = field(default_factory=dict)

    def topic(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def consumer(self, group: str, **conf):
        settings = {
            "bootstrap.servers": self.bootstrap,
            "group.id": f"{self.prefix}-{group}",
            **self.group_conf,
        }
        settings.update({key.replace("_", "."): value for key, value in conf.items()})
        return self.k.Consumer(settings)

    def producer(self, **conf):
        settings = {"bootstrap.servers": self.bootstrap}
        settings.update({key.replace("_", "."): value for key, value in conf.items()})
        return self.k.Producer(settings)

    def create(self, name: str, partitions: int) -> str:
        admin = self.k.AdminClient({"bootstrap.servers": self.bootstrap})
        topic = self.topic(name)
        admin.create_topics([self.k.NewTopic(topic, num_partitions=partitions)])[topic].result()
        return topic


def simulated_client() -> types.SimpleNamespace:
    """The simulator's client module, with the names the programs use."""
    from eda_sim import kafka

    return types.SimpleNamespace(
        Producer=kafka.Producer,
        Consumer=kafka.Consumer,
        AdminClient=kafka.AdminClient,
        NewTopic=kafka.NewTopic,
        NewPartitions=kafka.NewPartitions,
        TopicPartition=kafka.TopicPartition,
        KafkaException=kafka.KafkaException,
        OFFSET_BEGINNING=kafka.OFFSET_BEGINNING,
        OFFSET_END=kafka.OFFSET_END,
        OFFSET_STORED=kafka.OFFSET_STORED,
        ConsumerGroupTopicPartitions=kafka.ConsumerGroupTopicPartitions,
        OffsetSpec=kafka.OffsetSpec,
    )


def confluent_client() -> types.SimpleNamespace:
    """confluent-kafka's client module, with the names the programs use."""
    import confluent_kafka
    from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic, OffsetSpec

    def quiet(cls):
        # librdkafka logs at info level (6) to stderr with wall-clock stamps by default;
        # errors only keep a notebook's saved output and a test's log deterministic.
        return lambda conf: cls({"log_level": 3, **conf})

    return types.SimpleNamespace(
        Producer=quiet(confluent_kafka.Producer),
        Consumer=quiet(confluent_kafka.Consumer),
        AdminClient=quiet(AdminClient),
        NewTopic=NewTopic,
        NewPartitions=NewPartitions,
        TopicPartition=confluent_kafka.TopicPartition,
        KafkaException=confluent_kafka.KafkaException,
        OFFSET_BEGINNING=confluent_kafka.OFFSET_BEGINNING,
        OFFSET_END=confluent_kafka.OFFSET_END,
        OFFSET_STORED=confluent_kafka.OFFSET_STORED,
        ConsumerGroupTopicPartitions=confluent_kafka.ConsumerGroupTopicPartitions,
        OffsetSpec=OffsetSpec,
    )


# -- helpers the programs share --------------------------------------------------------------------


def _deliveries(producer, records, topic):
    """Produce ``records`` ((key, value) pairs), flush, and return (key, value, partition, offset) in produce order."""
    seen: dict = {}
    for i, (key, value) in enumerate(records):

        def report(err, msg, i=i):
            seen[i] = err.name() if err is not None else (msg.partition(), msg.offset())

        producer.produce(topic, key=key, value=value, on_delivery=report)
    producer.flush(10)
    return [(key, value, *seen[i]) for i, (key, value) in enumerate(records)]


def _drain(consumer, want: int, polls: int = 60, timeout: float = 0.25):
    """Poll until ``want`` messages (records or error events) arrived or ``polls`` polls passed."""
    out = []
    for _ in range(polls):
        msg = consumer.poll(timeout)
        if msg is not None:
            out.append(msg)
            if len(out) >= want:
                break
    return out


def _settle(
    k,
    consumers,
    topic: str,
    partitions: int,
    polls: int = 80,
    timeout: float = 0.1,
    positions=False,
):
    """Poll every consumer in turn until their assignments split ``topic`` between them all.

    With ``positions``, also until each has a position for its partitions (a real client
    looks it up after the assignment; on an empty partition it stays unknown until a record
    arrives). Returns the messages polled meanwhile, per consumer.
    """
    seen = [[] for _ in consumers]
    for _ in range(polls):
        for i, c in enumerate(consumers):
            msg = c.poll(timeout)
            if msg is not None:
                seen[i].append(msg)
        owned = [sorted(tp.partition for tp in c.assignment()) for c in consumers]
        flat = sorted(p for parts in owned for p in parts)
        if all(owned) and flat == list(range(partitions)):
            if not positions:
                break
            found = [
                tp.offset
                for c in consumers
                for tp in c.position([k.TopicPartition(topic, p) for p in range(partitions)])
                if any(t.partition == tp.partition for t in c.assignment())
            ]
            if all(offset >= 0 for offset in found):
                break
    return seen


def _records(msgs):
    return [
        (m.partition(), m.offset(), m.key() and m.key().decode(), m.value().decode())
        for m in msgs
        if m.error() is None
    ]


def _errors(msgs):
    return [m.error().name() for m in msgs if m.error() is not None]


# -- the programs ----------------------------------------------------------------------------------


def keyed_placement(t: Target, partitioner: str | None) -> dict:
    """Keyed, empty-key and null-key records under one ``partitioner`` (None: the client's default).

    What is deterministic is compared: each key's partition, and where the
    partitioner hashes them, where empty and null keys go. Random choices are
    reported only as "all inside the topic".
    """
    topic = t.create(f"place-{partitioner or 'default'}", 6)
    conf = {} if partitioner is None else {"partitioner": partitioner}
    p = t.producer(**conf)
    keyed = _deliveries(p, [(key, key) for key in KEYS], topic)
    empty = _deliveries(p, [(b"", f"e{i}") for i in range(3)], topic)
    null = _deliveries(p, [(None, f"n{i}") for i in range(3)], topic)
    out = {"keyed": {key: part for key, _, part, _ in keyed}}
    hashes_empty = partitioner in ("consistent", "murmur2", "murmur2_random")
    hashes_null = partitioner in ("consistent", "murmur2")
    out["empty"] = (
        sorted({part for *_, part, _ in empty})
        if hashes_empty
        else all(0 <= part < 6 for *_, part, _ in empty)
    )
    out["null"] = (
        sorted({part for *_, part, _ in null})
        if hashes_null
        else all(0 <= part < 6 for *_, part, _ in null)
    )
    return out


def order_and_offsets(t: Target) -> dict:
    """Per-partition order and offsets: what the producer was told, and what a consumer reads back."""
    topic = t.create("order", 3)
    p = t.producer(enable_idempotence=True, partitioner="murmur2_random")
    records = [(f"k{i % 5}", f"k{i % 5}-{i // 5}") for i in range(15)]
    acked = _deliveries(p, records, topic)
    c = t.consumer("order", auto_offset_reset="earliest", enable_auto_commit=False)
    c.subscribe([topic])
    got = _records(_drain(c, 15))
    c.close()
    by_partition: dict = {}
    for part, offset, key, value in got:
        by_partition.setdefault(part, []).append((offset, key, value))
    return {
        "acked": sorted((part, offset, key, value) for key, value, part, offset in acked),
        "read": {part: rows for part, rows in sorted(by_partition.items())},
    }


def commit_and_resume(t: Target) -> dict:
    """Commit part way, leave, and resume in the same group: committed(), position() and where reading restarts."""
    k = t.k
    topic = t.create("resume", 1)
    _deliveries(t.producer(), [(None, f"v{i}") for i in range(10)], topic)
    tp = [k.TopicPartition(topic, 0)]
    a = t.consumer("resume", auto_offset_reset="earliest", enable_auto_commit=False)
    a.subscribe([topic])
    msgs = _records(_drain(a, 10))
    seen = _drain_nothing(a)  # nothing more arrives
    done = a.commit(offsets=[k.TopicPartition(topic, 0, 6)], asynchronous=False)
    out = {
        "read_first": [offset for _, offset, _, _ in msgs],
        "nothing_more": len(seen),
        "commit_returned": [(x.partition, x.offset) for x in done],
        "committed_after_commit": [x.offset for x in a.committed(tp, timeout=10)],
        "position_after_reading": [x.offset for x in a.position(tp)],
    }
    a.close()
    b = t.consumer("resume", auto_offset_reset="earliest", enable_auto_commit=False)
    b.subscribe([topic])
    again = _records(_drain(b, 4))
    out["first_offset_after_resume"] = again[0][1] if again else None
    out["read_after_resume"] = [offset for _, offset, _, _ in again]
    out["committed_seen_by_newcomer"] = [x.offset for x in b.committed(tp, timeout=10)]
    b.commit(asynchronous=False)  # the stored offsets: the position, with enable.auto.offset.store
    out["committed_after_commit_of_stored"] = [x.offset for x in b.committed(tp, timeout=10)]
    b.close()
    return out


def _drain_nothing(consumer, polls: int = 4, timeout: float = 0.1):
    return [m for m in (consumer.poll(timeout) for _ in range(polls)) if m is not None]


def offset_reset(t: Target, policy: str) -> dict:
    """A new group under ``auto.offset.reset=policy``: which old and new records it reads, and which errors."""
    k = t.k
    topic = t.create(f"reset-{policy}", 1)
    p = t.producer()
    _deliveries(p, [(None, f"old-{i}") for i in range(5)], topic)
    c = t.consumer(f"reset-{policy}", auto_offset_reset=policy, enable_auto_commit=False)
    c.subscribe([topic])
    if policy == "error":
        early = _drain(c, 1, polls=40)
    else:
        early = _settle(k, [c], topic, 1, polls=40, positions=True)[0]
    _deliveries(p, [(None, f"new-{i}") for i in range(3)], topic)
    msgs = early
    for _ in range(40):  # until the last new record arrives (or, for error, a while longer)
        if policy != "error" and "new-2" in [value for *_, value in _records(msgs)]:
            break
        msgs += _drain_nothing(c, polls=1, timeout=0.1 if policy == "error" else 0.25)
        if policy == "error" and len(msgs) > 1:
            break
    msgs += _drain_nothing(c)
    c.close()
    return {"values": [value for *_, value in _records(msgs)], "errors": _errors(msgs)}


def session_limit(t: Target, session_ms: int) -> dict:
    """A member asks for ``session_ms`` of session, under Kafka's ``group.min.session.timeout.ms`` (6000).

    Observes what its first poll events are (a record, or an error's name)
    and whether the errors are fatal.
    """
    topic = t.create(f"session-{session_ms}", 1)
    _deliveries(t.producer(), [(None, "only")], topic)
    c = t.consumer(
        f"session-{session_ms}",
        session_timeout_ms=session_ms,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    c.subscribe([topic])
    first = _drain(c, 1, polls=40)
    c.close()
    return {
        "first": [m.error().name() if m.error() is not None else "record" for m in first],
        "fatal": [m.error().fatal() for m in first if m.error() is not None],
    }


def two_members(t: Target, strategy: str) -> dict:
    """Two members split three partitions under ``strategy``; then one leaves and the other takes all."""
    k = t.k
    topic = t.create(f"pair-{strategy}", 3)
    conf = {"partition.assignment.strategy": strategy, "auto.offset.reset": "earliest"}
    a = t.consumer(f"pair-{strategy}", **{key.replace(".", "_"): v for key, v in conf.items()})
    a.subscribe([topic])
    _settle(k, [a], topic, 3)
    b = t.consumer(f"pair-{strategy}", **{key.replace(".", "_"): v for key, v in conf.items()})
    b.subscribe([topic])
    _settle(k, [a, b], topic, 3)
    split = sorted(sorted(tp.partition for tp in c.assignment()) for c in (a, b))
    b.close()
    _settle(k, [a], topic, 3)
    after = sorted(tp.partition for tp in a.assignment())
    a.close()
    return {"split": split, "after_leave": after}


def static_rejoin(t: Target, away: float = 0.0) -> dict:
    """Two static members (``group.instance.id``) split four partitions; one closes and a new process
    with its id comes back ``away`` seconds later, inside the session. Kafka (KIP-345) gives it the same
    partitions with no rebalance: the other member keeps its partitions and is revoked nothing."""
    k = t.k
    topic = t.create("static", 4)
    log = []

    def member(instance):
        c = t.consumer(
            "static",
            group_instance_id=t.topic(instance),
            session_timeout_ms=6000,
            max_poll_interval_ms=6000,
            auto_offset_reset="earliest",
        )
        c.subscribe(
            [topic],
            on_revoke=lambda _c, parts: log.append((instance, sorted(p.partition for p in parts))),
        )
        return c

    def owned(*consumers):
        return [sorted(tp.partition for tp in c.assignment()) for c in consumers]

    a, b = member("a"), member("b")
    _settle(k, [a, b], topic, 4)
    before = owned(a, b)
    a.close()  # a static member sends no LeaveGroup
    mark = len(log)
    for _ in range(int(away / 0.1)):  # the instance restarts meanwhile; the other member reads on
        b.poll(0.1)
    back = member("a")
    _settle(k, [back, b], topic, 4, polls=40)
    after = owned(back, b)
    revoked = [parts for who, parts in log[mark:] if who == "b" and parts]
    back.close()
    b.close()
    return {"kept": after == before and all(before), "other_revoked": bool(revoked)}


def admin_errors(t: Target) -> dict:
    """What the admin client and a consumer report for an existing topic, a bad count and an unknown topic."""
    k = t.k
    admin = k.AdminClient({"bootstrap.servers": t.bootstrap})
    topic = t.create("admin", 2)

    def outcome(futures, name):
        try:
            futures[name].result()
            return "ok"
        except k.KafkaException as exc:
            return exc.args[0].name()
        except ValueError as exc:  # a local check refusing it before the broker sees it
            return f"ValueError: {exc}"

    out = {
        "create_existing": outcome(admin.create_topics([k.NewTopic(topic, 2)]), topic),
    }
    zero = t.topic("zero")
    out["create_zero_partitions"] = outcome(admin.create_topics([k.NewTopic(zero, 0)]), zero)
    out["shrink_partitions"] = outcome(admin.create_partitions([k.NewPartitions(topic, 1)]), topic)
    c = t.consumer("admin", auto_offset_reset="earliest")
    unknown = t.topic("never-created")
    try:
        c.subscribe([unknown])
        out["subscribe_unknown"] = _errors(_drain(c, 1, polls=20))[:1]
    except k.KafkaException as exc:
        out["subscribe_unknown"] = [f"raised at subscribe(): {exc.args[0].name()}"]
    c.close()
    return out


def transactions(t: Target) -> dict:
    """Read-process-write in transactions (notebook 07's loop), an abort, and a zombie fenced.

    What read_committed and read_uncommitted readers see (offsets, so the
    markers' gaps show), the group's committed input offset, and the error a
    fenced instance gets on commit.
    """
    from eda_sim.course.nb07.program import transactional_loop

    k = t.k
    source, sink = t.create("txn-in", 1), t.create("txn-out", 1)
    _deliveries(t.producer(), [(None, str(i)) for i in range(6)], source)
    producer = t.producer(transactional_id=t.topic("doubler"))
    producer.init_transactions(10)
    consumer = t.consumer("txn-doubler", auto_offset_reset="earliest", enable_auto_commit=False)
    steps = list(transactional_loop(k, consumer, producer, source=source, sink=sink, idle_polls=3))
    out = {"steps": steps}
    out["input_committed"] = [
        x.offset for x in consumer.committed([k.TopicPartition(source, 0)], timeout=10)
    ]
    consumer.close()
    producer.begin_transaction()
    producer.produce(sink, value="aborted")
    producer.flush(10)
    producer.abort_transaction(10)
    producer.begin_transaction()
    producer.produce(sink, value="zombie")
    producer.flush(10)
    successor = t.producer(transactional_id=t.topic("doubler"))
    successor.init_transactions(10)  # fences `producer` and aborts its open transaction
    try:
        producer.commit_transaction(3)
        out["zombie_commit"] = "committed"
    except k.KafkaException as exc:
        out["zombie_commit"] = (exc.args[0].name(), exc.args[0].fatal())
    successor.begin_transaction()
    successor.produce(sink, value="fresh")
    successor.commit_transaction(10)
    for level in ("read_committed", "read_uncommitted"):
        reader = t.consumer(f"txn-{level}", auto_offset_reset="earliest", isolation_level=level)
        reader.subscribe([sink])
        want = 7 if level == "read_committed" else 9
        out[level] = [(offset, value) for _, offset, _, value in _records(_drain(reader, want))]
        reader.close()
    return out


def _produce_to(producer, topic, partition: int, values) -> None:
    for value in values:
        producer.produce(topic, value=value, partition=partition)
    producer.flush(10)


def pause_resume(t: Target) -> dict:
    """Pause one of two partitions: polls hand out only the other's records; after ``resume`` the paused
    partition's records come, each once, from where the consumer stood (librdkafka drops what it had
    fetched for a paused partition and fetches again from the position)."""
    k = t.k
    topic = t.create("pause", 2)
    p = t.producer()
    _produce_to(p, topic, 0, ["a0", "a1"])
    _produce_to(p, topic, 1, ["b0", "b1"])
    c = t.consumer("pause", auto_offset_reset="earliest", enable_auto_commit=False)
    c.subscribe([topic])
    first = _settle(k, [c], topic, 2)[0]
    first += _drain(c, 4 - len(first), polls=40)
    c.pause([k.TopicPartition(topic, 0)])
    _produce_to(p, topic, 0, ["a2", "a3"])
    _produce_to(p, topic, 1, ["b2", "b3"])
    paused = _drain(c, 2, polls=40) + _drain_nothing(c)
    c.resume([k.TopicPartition(topic, 0)])
    resumed = _drain(c, 2, polls=40) + _drain_nothing(c)
    positions = [x.offset for x in c.position([k.TopicPartition(topic, q) for q in (0, 1)])]
    c.close()
    return {
        "before_pause": sorted(_records(first)),
        "while_paused": sorted(_records(paused)),
        "after_resume": sorted(_records(resumed)),
        "positions": positions,
    }


def seek_back(t: Target) -> dict:
    """Read six records, ``seek`` back to offset 2: the next polls hand out offsets 2 to 5 again, once."""
    k = t.k
    topic = t.create("seek", 1)
    _produce_to(t.producer(), topic, 0, [f"v{i}" for i in range(6)])
    c = t.consumer("seek", auto_offset_reset="earliest", enable_auto_commit=False)
    c.subscribe([topic])
    read = _records(_drain(c, 6, polls=60))
    c.seek(k.TopicPartition(topic, 0, 2))
    again = _records(_drain(c, 4, polls=40) + _drain_nothing(c))
    position = [x.offset for x in c.position([k.TopicPartition(topic, 0)])]
    c.close()
    return {
        "read": [offset for _, offset, _, _ in read],
        "after_seek": [offset for _, offset, _, _ in again],
        "position": position,
    }


def store_offsets(t: Target) -> dict:
    """``enable.auto.offset.store=false``: ``commit()`` commits only what the application stored.

    Notebook 05's recommended pattern: store the offset of a record after it
    is processed, commit the stored offsets. A commit sends a stored offset
    only when it is beyond the committed one: with nothing new stored, or an
    offset stored behind the committed one, it has nothing to send.
    """
    k = t.k
    topic = t.create("store", 1)
    tp = [k.TopicPartition(topic, 0)]
    _produce_to(t.producer(), topic, 0, [f"v{i}" for i in range(5)])
    c = t.consumer(
        "store",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        enable_auto_offset_store=False,
    )
    c.subscribe([topic])
    msgs = [m for m in _drain(c, 5, polls=60) if m.error() is None]

    def commit():
        try:
            return [(x.partition, x.offset) for x in c.commit(asynchronous=False)]
        except k.KafkaException as exc:
            return exc.args[0].name()

    out = {"read": [m.offset() for m in msgs], "commit_before_store": commit()}
    c.store_offsets(message=msgs[2])  # processed up to offset 2
    out["commit_after_store"] = commit()
    out["committed"] = [x.offset for x in c.committed(tp, timeout=10)]
    out["commit_again"] = commit()
    c.store_offsets(offsets=[k.TopicPartition(topic, 0, 5)])
    out["commit_after_storing_5"] = commit()
    c.store_offsets(offsets=[k.TopicPartition(topic, 0, 2)])  # behind the committed offset
    out["commit_behind_committed"] = commit()
    out["committed_at_end"] = [x.offset for x in c.committed(tp, timeout=10)]
    c.close()
    return out


def rebalance_callbacks(t: Target, strategy: str) -> dict:
    """``on_assign``/``on_revoke`` as a second member joins and leaves a group of three partitions.

    Observes each member's callbacks that carry partitions, in order (their
    kinds; the first member's first and last with their partitions); how the
    two members split the partitions; and,
    under ``cooperative-sticky``, which partition moves to the newcomer.
    Eager protocols revoke everything and assign anew; cooperative-sticky
    hands over only what moves. Not observed: which member ``range`` gives
    two partitions (it orders members by member id, which a real broker
    makes random), and the callbacks with an empty list (librdkafka calls
    ``on_assign([])`` in rebalance rounds that give a member nothing new, as
    many times as there are rounds).
    """
    k = t.k
    topic = t.create(f"callbacks-{strategy}", 3)
    events: dict = {"a": [], "b": []}

    def member(name):
        c = t.consumer(
            f"callbacks-{strategy}",
            partition_assignment_strategy=strategy,
            auto_offset_reset="earliest",
        )
        c.subscribe(
            [topic],
            on_assign=lambda _c, parts: events[name].append(
                ("assign", sorted(p.partition for p in parts))
            ),
            on_revoke=lambda _c, parts: events[name].append(
                ("revoke", sorted(p.partition for p in parts))
            ),
        )
        return c

    a = member("a")
    _settle(k, [a], topic, 3)
    b = member("b")
    _settle(k, [a, b], topic, 3)
    split = sorted(sorted(tp.partition for tp in c.assignment()) for c in (a, b))
    b.close()
    _settle(k, [a], topic, 3)
    a.close()
    shown = {name: [(kind, parts) for kind, parts in got if parts] for name, got in events.items()}
    return {
        "a": [kind for kind, _ in shown["a"]],
        "b": [kind for kind, _ in shown["b"]],
        "a_first_and_last": [shown["a"][0], shown["a"][-1]] if shown["a"] else [],
        "split_while_two": split,
        "moved_to_newcomer": shown["b"][0][1]
        if strategy == "cooperative-sticky" and shown["b"]
        else None,
    }


def _refusal(k, call):
    """The error name a call raises, or "ok"."""
    try:
        call()
        return "ok"
    except k.KafkaException as exc:
        return exc.args[0].name()


def manual_assign(t: Target) -> dict:
    """``assign()`` without a group join: explicit, BEGINNING and END start offsets; a simple
    consumer's commit; ``incremental_*`` and librdkafka's refusals; a second consumer of the group
    that assigns with ``OFFSET_STORED`` resumes at the committed offset."""
    k = t.k
    topic = t.create("manual", 2)
    p = t.producer()
    _produce_to(p, topic, 0, [f"a{i}" for i in range(6)])
    _produce_to(p, topic, 1, [f"b{i}" for i in range(4)])
    a = t.consumer("manual", auto_offset_reset="earliest", enable_auto_commit=False)
    a.assign([k.TopicPartition(topic, 0, 2), k.TopicPartition(topic, 1, k.OFFSET_BEGINNING)])
    out = {"assigned": sorted(tp.partition for tp in a.assignment())}
    out["read"] = sorted(_records(_drain(a, 8, polls=60) + _drain_nothing(a)))
    done = a.commit(offsets=[k.TopicPartition(topic, 0, 5)], asynchronous=False)
    out["commit_returned"] = [(x.partition, x.offset) for x in done]
    out["committed"] = [
        x.offset for x in a.committed([k.TopicPartition(topic, q) for q in (0, 1)], timeout=10)
    ]
    out["add_assigned_again"] = _refusal(
        k, lambda: a.incremental_assign([k.TopicPartition(topic, 0)])
    )
    a.incremental_unassign([k.TopicPartition(topic, 1)])
    out["after_incremental_unassign"] = sorted(tp.partition for tp in a.assignment())
    out["remove_unassigned"] = _refusal(
        k, lambda: a.incremental_unassign([k.TopicPartition(topic, 1)])
    )
    a.incremental_assign([k.TopicPartition(topic, 1, k.OFFSET_END)])
    _drain_nothing(a)  # the start offset is looked up before the new records come
    _produce_to(p, topic, 1, ["late-0", "late-1"])
    late = _drain(a, 2, polls=40) + _drain_nothing(a)
    out["read_from_end"] = [value for *_, value in _records(late)]
    a.unassign()
    out["after_unassign"] = [tp.partition for tp in a.assignment()]
    a.close()
    b = t.consumer("manual", auto_offset_reset="earliest", enable_auto_commit=False)
    b.assign([k.TopicPartition(topic, 0, k.OFFSET_STORED)])
    resumed = _records(_drain(b, 1, polls=40))
    out["resumed_at"] = resumed[0][1] if resumed else None
    b.close()
    return out


def simple_commit(t: Target) -> dict:
    """A consumer that assigned its partition by hand commits into a group: refused while the group
    has a member (``UNKNOWN_MEMBER_ID``: only members commit there), accepted once it is empty."""
    k = t.k
    topic = t.create("simple", 1)
    _produce_to(t.producer(), topic, 0, [f"v{i}" for i in range(3)])
    member = t.consumer("simple", auto_offset_reset="earliest", enable_auto_commit=False)
    member.subscribe([topic])
    _settle(k, [member], topic, 1)
    loner = t.consumer("simple", auto_offset_reset="earliest", enable_auto_commit=False)
    loner.assign([k.TopicPartition(topic, 0, 0)])
    mark = [k.TopicPartition(topic, 0, 2)]
    out = {
        "while_a_member_is_in": _refusal(k, lambda: loner.commit(offsets=mark, asynchronous=False))
    }
    member.close()
    out["once_it_left"] = _refusal(k, lambda: loner.commit(offsets=mark, asynchronous=False))
    loner.close()
    return out


def callback_assign(t: Target, strategy: str) -> dict:
    """Rebalance callbacks that make the assignment calls themselves, as a real client's may.

    Under an eager strategy ``on_assign`` calls ``assign(partitions)`` and
    ``on_revoke`` commits and calls ``unassign()``; under cooperative-sticky
    they call ``incremental_assign``/``incremental_unassign``. The first
    member's first ``on_assign`` starts every partition at offset 1. A second
    member joins and the first leaves. Observes the offsets ``on_assign``
    receives, the errors the calls raise, and what each member reads: from
    offset 1 on, nothing twice and nothing missed across the handovers.
    """
    k = t.k
    cooperative = strategy == "cooperative-sticky"
    topic = t.create(f"cbassign-{strategy}", 3)
    p = t.producer()
    for q, name in enumerate("abc"):
        _produce_to(p, topic, q, [f"{name}{i}" for i in range(3)])
    seen: dict = {"offsets": [], "errors": []}

    def member():
        c = t.consumer(
            f"cbassign-{strategy}",
            partition_assignment_strategy=strategy,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )

        def on_assign(consumer, parts):
            seen["offsets"].extend(sorted({p.offset for p in parts}))
            if not seen.get("started") and parts:
                seen["started"] = True
                for tp in parts:
                    tp.offset = 1 if tp.partition == 0 else tp.offset
            try:
                (consumer.incremental_assign if cooperative else consumer.assign)(parts)
            except k.KafkaException as exc:
                seen["errors"].append(exc.args[0].name())

        def on_revoke(consumer, parts):
            try:
                consumer.commit(asynchronous=False)
            except k.KafkaException as exc:
                if exc.args[0].name() != "_NO_OFFSET":  # nothing read since the last commit
                    seen["errors"].append(exc.args[0].name())
            try:
                if cooperative:
                    consumer.incremental_unassign(parts)
                else:
                    consumer.unassign()
            except k.KafkaException as exc:
                seen["errors"].append(exc.args[0].name())

        c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
        return c

    a = member()
    read = _settle(k, [a], topic, 3)[0]
    read += _drain(a, 3 - len(read), polls=40)
    b = member()
    got = _settle(k, [a, b], topic, 3)
    read += got[0] + got[1]
    for q, name in enumerate("abc"):
        _produce_to(p, topic, q, [f"{name}3"])
    for _ in range(30):
        read += _drain_nothing(a, polls=1) + _drain_nothing(b, polls=1)
        if len(_records(read)) >= 11:
            break
    a.close()
    read += _drain_nothing(b, polls=10)
    b.close()
    return {
        "offsets_given_to_on_assign": sorted(set(seen["offsets"])),
        "errors": seen["errors"],
        "read": sorted((part, offset) for part, offset, _, _ in _records(read)),
    }


#: Record timestamps (milliseconds since the Unix epoch) for ``offsets_for_times``: not in order.
STAMPS = [1_700_000_001_000 + d for d in (0, 100, 100, 300, 200, 500)]


def offsets_for_times(t: Target) -> dict:
    """Records produced with explicit timestamps (not in order): the timestamps read back, and
    ``offsets_for_times``' answers (the earliest offset whose timestamp is at or after the one asked,
    -1 past the last)."""
    k = t.k
    topic = t.create("times", 1)
    p = t.producer()
    for i, ts in enumerate(STAMPS):
        p.produce(topic, value=f"v{i}", partition=0, timestamp=ts)
    p.flush(10)
    c = t.consumer("times", auto_offset_reset="earliest", enable_auto_commit=False)
    c.assign([k.TopicPartition(topic, 0, k.OFFSET_BEGINNING)])
    msgs = [m for m in _drain(c, 6, polls=60) if m.error() is None]
    asks = [STAMPS[0] + d for d in (-1000, 0, 50, 100, 150, 250, 400, 500, 501)]
    found = c.offsets_for_times([k.TopicPartition(topic, 0, ts) for ts in asks], timeout=10)
    c.close()
    return {
        "timestamps": [(m.offset(), m.timestamp()) for m in msgs],
        "offsets": [x.offset for x in found],
    }


def _outcome(k, future):
    """A future's result, or the name of the error it failed with."""
    try:
        return future.result()
    except k.KafkaException as exc:
        return exc.args[0].name()


def group_offsets_admin(t: Target) -> dict:
    """An admin lists a group's committed offsets, is refused altering them while the group has a
    member (Kafka: ``UNKNOWN_MEMBER_ID`` on each partition), alters them once it is empty, and a new
    member resumes at the altered offset."""
    k = t.k
    admin = k.AdminClient({"bootstrap.servers": t.bootstrap})
    topic = t.create("group-offsets", 2)
    _produce_to(t.producer(), topic, 0, [f"v{i}" for i in range(6)])
    gid = f"{t.prefix}-group-offsets"

    def listed(tps=None):
        request = [k.ConsumerGroupTopicPartitions(gid, tps)]
        got = admin.list_consumer_group_offsets(request)[gid].result()
        return sorted((tp.partition, tp.offset) for tp in got.topic_partitions)

    def altered(offset):
        request = [k.ConsumerGroupTopicPartitions(gid, [k.TopicPartition(topic, 0, offset)])]
        got = admin.alter_consumer_group_offsets(request)[gid].result()
        return [
            (tp.partition, tp.offset, tp.error.name() if tp.error else None)
            for tp in got.topic_partitions
        ]

    c = t.consumer("group-offsets", auto_offset_reset="earliest", enable_auto_commit=False)
    c.subscribe([topic])
    read = _records(_drain(c, 6, polls=60))
    c.commit(offsets=[k.TopicPartition(topic, 0, 4)], asynchronous=False)
    out = {
        "read": [offset for _, offset, _, _ in read],
        "listed_after_commit": listed(),
        "listed_named": listed([k.TopicPartition(topic, 0), k.TopicPartition(topic, 1)]),
        "alter_with_a_member": altered(1),
    }
    out["listed_after_refused_alter"] = listed()
    c.close()
    out["alter_when_empty"] = altered(2)
    out["listed_after_alter"] = listed()
    b = t.consumer("group-offsets", auto_offset_reset="earliest", enable_auto_commit=False)
    b.subscribe([topic])
    out["resumed_at"] = [offset for _, offset, _, _ in _records(_drain(b, 4, polls=60))]
    b.close()
    return out


def describe_groups(t: Target) -> dict:
    """Describe, list and delete a group: its state, type, assignor and members' partitions while two
    members read; a group with members is not deleted (``NON_EMPTY_GROUP``), an empty one is, with
    its offsets; an unknown group is ``GROUP_ID_NOT_FOUND`` (Kafka 4.0, KIP-1043)."""
    k = t.k
    admin = k.AdminClient({"bootstrap.servers": t.bootstrap})
    topic = t.create("describe", 2)
    gid = f"{t.prefix}-describe"

    def member(name):
        c = t.consumer(
            "describe",
            partition_assignment_strategy="roundrobin",
            client_id=name,
            auto_offset_reset="earliest",
        )
        c.subscribe([topic])
        return c

    def described():
        d = _outcome(k, admin.describe_consumer_groups([gid])[gid])
        if isinstance(d, str):
            return d
        return {
            "state": d.state.name,
            "type": d.type.name,
            "assignor": d.partition_assignor,
            "simple": d.is_simple_consumer_group,
            "members": sorted(
                (m.client_id, sorted(tp.partition for tp in m.assignment.topic_partitions))
                for m in d.members
            ),
        }

    def listed():
        found = admin.list_consumer_groups().result().valid
        return [
            (g.state.name, g.type.name, g.is_simple_consumer_group)
            for g in found
            if g.group_id == gid
        ]

    def deleted(group):
        return _outcome(k, admin.delete_consumer_groups([group])[group])

    a, b = member("a"), member("b")
    _settle(k, [a, b], topic, 2)
    a.commit(offsets=[k.TopicPartition(topic, 0, 0)], asynchronous=False)
    out = {"while_two_read": described(), "listed_while_two_read": listed()}
    out["delete_with_members"] = deleted(gid)
    a.close()
    b.close()
    out["after_both_left"] = described()
    out["delete_empty"] = deleted(gid)
    request = [k.ConsumerGroupTopicPartitions(gid)]
    out["offsets_after_delete"] = [
        (tp.partition, tp.offset)
        for tp in admin.list_consumer_group_offsets(request)[gid].result().topic_partitions
    ]
    ghost = f"{t.prefix}-never-joined"
    out["describe_unknown"] = described_unknown = _outcome(
        k, admin.describe_consumer_groups([ghost])[ghost]
    )
    if not isinstance(described_unknown, str):  # a description instead of an error
        out["describe_unknown"] = described_unknown.state.name
    out["delete_unknown"] = deleted(ghost)
    return out


def delete_records(t: Target) -> dict:
    """``delete_records`` moves a partition's log start: its low watermark, what a new group under
    ``earliest`` reads, and where a group whose committed offset is now below the log start resumes
    (``auto.offset.reset``); an offset beyond the log end is ``OFFSET_OUT_OF_RANGE``."""
    k = t.k
    topic = t.create("delete-records", 1)
    tp = k.TopicPartition(topic, 0)
    _produce_to(t.producer(), topic, 0, [f"v{i}" for i in range(10)])
    old = t.consumer("delete-records-old", auto_offset_reset="earliest", enable_auto_commit=False)
    old.subscribe([topic])
    _drain(old, 10, polls=60)
    old.commit(offsets=[k.TopicPartition(topic, 0, 2)], asynchronous=False)
    old.close()

    def deleted(offset):
        # a fresh admin client each time: a broker that drops the connection spoils no later call
        admin = k.AdminClient({"bootstrap.servers": t.bootstrap})
        [future] = admin.delete_records([k.TopicPartition(topic, 0, offset)]).values()
        got = _outcome(k, future)
        return got if isinstance(got, str) else got.low_watermark

    out = {"delete_before_4": deleted(4), "delete_beyond_end": deleted(50)}
    fresh = t.consumer("delete-records-new", auto_offset_reset="earliest", enable_auto_commit=False)
    fresh.subscribe([topic])
    out["new_group_reads"] = [offset for _, offset, _, _ in _records(_drain(fresh, 6, polls=60))]
    out["low_watermark_seen"] = fresh.get_watermark_offsets(tp, timeout=10)[0]
    fresh.close()
    back = t.consumer("delete-records-old", auto_offset_reset="earliest", enable_auto_commit=False)
    back.subscribe([topic])
    out["old_group_resumes"] = [offset for _, offset, _, _ in _records(_drain(back, 6, polls=60))]
    back.close()
    out["delete_all"] = deleted(k.OFFSET_END)
    return out


#: Record timestamps the list_offsets program sets (ms since the Unix epoch: 2026-01-01 00:01).
_T0 = 1_767_225_660_000


def list_offsets(t: Target) -> dict:
    """``list_offsets`` by each rule on five records whose timestamps are not in offset order:
    earliest, latest, the largest timestamp (offset 2, not the newest) and two timestamps
    (one between records, one after all of them). Observes (offset, timestamp from the first record
    or -1, leader epoch)."""
    k = t.k
    topic = t.create("list-offsets", 1)
    p = t.producer()
    for i, dt in enumerate([0, 10, 40, 20, 30]):
        p.produce(topic, value=f"v{i}", partition=0, timestamp=_T0 + dt)
    p.flush(10)
    specs = {
        "earliest": k.OffsetSpec.earliest(),
        "latest": k.OffsetSpec.latest(),
        "max_timestamp": k.OffsetSpec.max_timestamp(),
        "at_15": k.OffsetSpec.for_timestamp(_T0 + 15),
        "after_all": k.OffsetSpec.for_timestamp(_T0 + 1000),
    }
    out = {}
    for name, spec in specs.items():
        admin = k.AdminClient({"bootstrap.servers": t.bootstrap})  # one broken call spoils no other
        [future] = admin.list_offsets({k.TopicPartition(topic, 0): spec}).values()
        info = _outcome(k, future)
        if isinstance(info, str):
            out[name] = info
        else:
            ts = info.timestamp - _T0 if info.timestamp >= 0 else info.timestamp
            out[name] = (info.offset, ts, info.leader_epoch)
    return out


def _sticky_member(t: Target, group: str, topics: list):
    # At least 3 s of session: a member whose session lapses on a busy machine joins again owning
    # nothing, and the assignor then answers another question.
    session = max(3000, int(t.group_conf.get("session.timeout.ms", 45000)))
    c = t.consumer(
        group,
        partition_assignment_strategy="cooperative-sticky",
        auto_offset_reset="earliest",
        session_timeout_ms=session,
        heartbeat_interval_ms=session // 10,
    )
    c.subscribe(topics)
    return c


def _sticky_settle(consumers, expected: list, polls: int = 200, timeout: float = 0.1):
    """Poll until every partition of ``expected`` has one owner, every member has some, for 5 rounds."""
    calm = 0
    for _ in range(polls):
        for c in consumers:
            c.poll(timeout)
        owned = [sorted((tp.topic, tp.partition) for tp in c.assignment()) for c in consumers]
        flat = sorted(tp for parts in owned for tp in parts)
        calm = calm + 1 if all(owned) and flat == sorted(expected) else 0
        if calm >= 5:
            return


def _parts(c, topic=None):
    return sorted(
        (tp.partition if topic is not None else (tp.topic, tp.partition))
        for tp in c.assignment()
        if topic is None or tp.topic == topic
    )


def sticky_scaling(t: Target) -> dict:
    """``cooperative-sticky`` as three members join one by one onto six partitions, then one leaves.

    librdkafka's sticky assignor lists the partitions to consider by taking
    turns among the members holding the most, each giving its lowest first,
    and moves a partition while its owner holds two more than another member:
    so the second member takes 0-2 and the third takes 0 and 3, whatever the
    member ids. When the second member leaves, its partitions 1 and 2 are
    handed out highest first, each to the least loaded member, ties to the
    lower member id: the survivor whose member id sorts first gets 2. Member
    ids are random on a real broker, so that one is observed by rank.
    """
    topic = t.create("sticky-scaling", 6)
    every = [(topic, p) for p in range(6)]
    a = _sticky_member(t, "sticky-scaling", [topic])
    _sticky_settle([a], every)
    b = _sticky_member(t, "sticky-scaling", [topic])
    _sticky_settle([a, b], every)
    second = {"a": _parts(a, topic), "b": _parts(b, topic)}
    c = _sticky_member(t, "sticky-scaling", [topic])
    _sticky_settle([a, b, c], every)
    third = {"a": _parts(a, topic), "b": _parts(b, topic), "c": _parts(c, topic)}
    b.close()
    _sticky_settle([a, c], every)
    low, high = sorted((a, c), key=lambda m: m.memberid())
    gained = {
        "lower_member_id": sorted(set(_parts(low, topic)) - set(third["a" if low is a else "c"])),
        "higher_member_id": sorted(
            set(_parts(high, topic)) - set(third["a" if high is a else "c"])
        ),
    }
    for m in (a, c):
        m.close()
    return {"second_joins": second, "third_joins": third, "second_leaves": gained}


def sticky_two_topics(t: Target) -> dict:
    """``cooperative-sticky`` with different subscriptions: a and c read topics x and y, b only y.

    With subscriptions that differ, librdkafka's assignor considers the
    partitions fewest-takers first (x, which only a can take, before y) and
    moves y's partitions in order while a holds two more than b: b takes
    y-0..2. When c joins, it takes x-0 and y-0, the first partitions a and b
    can give.
    """
    x = t.create("sticky-two-x", 2)
    y = t.create("sticky-two-y", 4)
    every = [(x, p) for p in range(2)] + [(y, p) for p in range(4)]

    def named(c):
        return [("x" if tp == x else "y", p) for tp, p in _parts(c)]

    a = _sticky_member(t, "sticky-two", [x, y])
    _sticky_settle([a], every)
    b = _sticky_member(t, "sticky-two", [y])
    _sticky_settle([a, b], every)
    second = {"a": named(a), "b": named(b)}
    c = _sticky_member(t, "sticky-two", [x, y])
    _sticky_settle([a, b, c], every)
    third = {"a": named(a), "b": named(b), "c": named(c)}
    for m in (a, b, c):
        m.close()
    return {"b_joins": second, "c_joins": third}


def poll_runs(t: Target) -> dict:
    """Ten records in each of three partitions, polled one by one: in what runs the partitions come.

    librdkafka's consumer queue holds what each fetch brought, partition after
    partition, so one-by-one polls hand out a partition's fetched records as one
    run before the next partition's. Which partition comes first depends on the
    broker's fetch response, so the order of the runs is not observed.
    """
    topic = t.create("runs", 3)
    p = t.producer()
    for part in range(3):
        _produce_to(p, topic, part, [f"{part}-{i}" for i in range(10)])
    c = t.consumer("runs", auto_offset_reset="earliest", enable_auto_commit=False)
    c.subscribe([topic])
    got = _records(_drain(c, 30, polls=120))
    c.close()
    runs = []
    for part, offset, _, _ in got:
        if runs and runs[-1][0] == part:
            runs[-1][1].append(offset)
        else:
            runs.append((part, [offset]))
    return {
        "records": len(got),
        "runs": sorted((part, offsets) for part, offsets in runs),
    }


#: Every program with its parameters: id -> (function, keyword arguments).
PROGRAMS = {
    **{
        f"keyed_placement[{name}]": (keyed_placement, {"partitioner": name})
        for name in ("consistent_random", "consistent", "murmur2_random", "murmur2")
    },
    "keyed_placement[default]": (keyed_placement, {"partitioner": None}),
    "order_and_offsets": (order_and_offsets, {}),
    "commit_and_resume": (commit_and_resume, {}),
    **{
        f"offset_reset[{policy}]": (offset_reset, {"policy": policy})
        for policy in ("earliest", "latest", "error")
    },
    **{
        f"two_members[{strategy}]": (two_members, {"strategy": strategy})
        for strategy in ("range", "roundrobin")
    },
    "admin_errors": (admin_errors, {}),
    "transactions": (transactions, {}),
    "static_rejoin[2s]": (static_rejoin, {"away": 2.0}),
    "session_limit[3000]": (session_limit, {"session_ms": 3000}),
    **{
        f"rebalance_callbacks[{strategy}]": (rebalance_callbacks, {"strategy": strategy})
        for strategy in ("range", "cooperative-sticky")
    },
    "poll_runs": (poll_runs, {}),
    "pause_resume": (pause_resume, {}),
    "seek_back": (seek_back, {}),
    "store_offsets": (store_offsets, {}),
    "manual_assign": (manual_assign, {}),
    **{
        f"callback_assign[{strategy}]": (callback_assign, {"strategy": strategy})
        for strategy in ("range", "cooperative-sticky")
    },
    "simple_commit": (simple_commit, {}),
    "offsets_for_times": (offsets_for_times, {}),
    "group_offsets_admin": (group_offsets_admin, {}),
    "describe_groups": (describe_groups, {}),
    "delete_records": (delete_records, {}),
    "list_offsets": (list_offsets, {}),
    "sticky_scaling": (sticky_scaling, {}),
    "sticky_two_topics": (sticky_two_topics, {}),
}


#: Where Tansu (0.6.0, memory storage) departs from Apache Kafka: program id -> (observable, what Tansu
#: does, what Kafka documents). The tests check that Tansu still does this (so a fixed Tansu is noticed)
#: and compare the simulator with Kafka's documented value instead.
TANSU_DEVIATIONS = {
    "offset_reset[latest]": (
        "values",
        "answers ListOffsets(latest) with offset 1 instead of the log end offset "
        "(get_watermark_offsets says high=1 for any non-empty partition), so a new group under "
        "auto.offset.reset=latest starts at offset 1 and reads the records already there",
        "latest resets to the log end offset: a new group reads only records produced after it "
        "was assigned the partition",
    ),
    "admin_errors": (
        "create_zero_partitions, shrink_partitions",
        "creates a topic with 0 partitions, and does not implement CreatePartitions "
        "(confluent-kafka reports _UNSUPPORTED_FEATURE)",
        "CreateTopics with num_partitions=0 fails with INVALID_PARTITIONS; CreatePartitions with "
        "a total below the current count fails with INVALID_PARTITIONS",
    ),
}

TANSU_DEVIATIONS["static_rejoin[2s]"] = (
    "other_revoked, kept",
    "does not keep a static member's place for it: back after 2 s (well inside its 6 s session), "
    "the returning instance starts a rebalance that revokes the other member's partitions, and the "
    "group had not settled again 8 s later (a rejoin within a few hundred ms sometimes keeps it)",
    "a static member back within session.timeout.ms takes its old assignment with no rebalance "
    "(KIP-345); the other members keep theirs",
)

TANSU_DEVIATIONS["session_limit[3000]"] = (
    "first, fatal",
    "accepts a JoinGroup with session.timeout.ms=3000 (which the suite also gives its other "
    "programs, to join faster) and assigns the partition",
    "the coordinator refuses a session.timeout.ms outside group.min.session.timeout.ms (6000) .. "
    "group.max.session.timeout.ms with INVALID_SESSION_TIMEOUT, which librdkafka returns from "
    "poll() as a consumer error that is not fatal, and joins again a second later",
)

TANSU_DEVIATIONS["transactions"] = (
    "read_committed, zombie_commit",
    "hands a read_committed consumer the records of an aborted transaction, and does not fence "
    "an older instance: its commit_transaction() waits until it times out (_TIMED_OUT)",
    "read_committed consumers skip aborted records (the fetch response lists aborted "
    "transactions); after a newer instance's init_transactions() the older one is fenced and "
    "librdkafka raises the fatal _FENCED",
)

TANSU_DEVIATIONS["manual_assign"] = (
    "read_from_end",
    "answers ListOffsets(latest) with offset 1 (as in offset_reset[latest]), so a partition "
    "assigned at OFFSET_END starts at offset 1 and reads the records already there",
    "OFFSET_END starts at the log end offset: only records produced afterwards are read",
)

TANSU_DEVIATIONS["offsets_for_times"] = (
    "offsets",
    "answers every ListOffsets by timestamp with offset 0, also for a timestamp past the last "
    "record's (it stores the timestamps: the records read back carry them)",
    "the earliest offset whose timestamp is greater than or equal to the one asked, and -1 when "
    "the timestamp is past the last record's (confluent-kafka's offsets_for_times docs; "
    "ListOffsets in Kafka's protocol)",
)

TANSU_DEVIATIONS["describe_groups"] = (
    "while_two_read, listed_while_two_read, delete_with_members, after_both_left, "
    "describe_unknown, delete_unknown",
    "describes a classic group as type CONSUMER with no members and a member id as its "
    "partition_assignor, lists its state as UNKNOWN, deletes a group that has members, describes "
    "a group that never existed as EMPTY and deletes it without an error",
    "DescribeGroups gives a classic group's members with their assignments and its protocol "
    "(roundrobin) as the assignor, type CLASSIC; ListGroups gives its state (STABLE); DeleteGroups "
    "refuses a group with members (NON_EMPTY_GROUP) and an unknown one (GROUP_ID_NOT_FOUND), as "
    "Kafka 4.0 describes an unknown group (KIP-1043)",
)

TANSU_DEVIATIONS["delete_records"] = (
    "delete_before_4, delete_beyond_end, delete_all, new_group_reads, low_watermark_seen, "
    "old_group_resumes",
    "does not implement DeleteRecords: it drops the connection (librdkafka reports _TRANSPORT) and "
    "the records stay, so a new group reads from offset 0 and a group committed at 2 resumes there",
    "DeleteRecords moves the log start to the offset and answers the new low watermark; an offset "
    "beyond the high watermark is OFFSET_OUT_OF_RANGE; readers below the new log start follow "
    "auto.offset.reset",
)

TANSU_DEVIATIONS["list_offsets"] = (
    "earliest, latest, max_timestamp, at_15, after_all",
    "answers earliest with a timestamp (the broker's clock), latest with offset 1, max_timestamp "
    "with no offset (-1001), and any timestamp with offset 0 and the broker's clock",
    "ListOffsets answers earliest and latest with the log start and end and timestamp -1, "
    "max_timestamp with the record of the largest timestamp, and a timestamp with the first record "
    "at or after it (offset -1 when none is)",
)

#: What Kafka documents for the deviating observables (the simulator must match these).
KAFKA_EXPECTED = {
    "transactions": {
        "read_committed": [
            (0, "0"),
            (1, "2"),
            (2, "4"),
            (3, "6"),
            (5, "8"),
            (6, "10"),
            (12, "fresh"),
        ],
        "zombie_commit": ("_FENCED", True),
    },
    "offset_reset[latest]": {"values": ["new-0", "new-1", "new-2"]},
    "manual_assign": {"read_from_end": ["late-0", "late-1"]},
    "offsets_for_times": {"offsets": [0, 0, 1, 1, 3, 3, 5, 5, -1]},
    "static_rejoin[2s]": {"other_revoked": False},
    "session_limit[3000]": {"first": ["INVALID_SESSION_TIMEOUT"], "fatal": [False]},
    "admin_errors": {
        "create_zero_partitions": "INVALID_PARTITIONS",
        "shrink_partitions": "INVALID_PARTITIONS",
    },
    "delete_records": {
        "delete_before_4": 4,
        "delete_beyond_end": "OFFSET_OUT_OF_RANGE",
        "delete_all": 10,
        "new_group_reads": [4, 5, 6, 7, 8, 9],
        "low_watermark_seen": 4,
        "old_group_resumes": [4, 5, 6, 7, 8, 9],
    },
    "list_offsets": {
        "earliest": (0, -1, 0),
        "latest": (5, -1, 0),
        "max_timestamp": (2, 40, 0),
        "at_15": (2, 40, 0),
        "after_all": (-1, -1, None),
    },
    "describe_groups": {
        "while_two_read": {
            "state": "STABLE",
            "type": "CLASSIC",
            "assignor": "roundrobin",
            "simple": False,
            "members": [("a", [0]), ("b", [1])],
        },
        "listed_while_two_read": [("STABLE", "CLASSIC", False)],
        "delete_with_members": "NON_EMPTY_GROUP",
        "after_both_left": {
            "state": "EMPTY",
            "type": "CLASSIC",
            "assignor": "",
            "simple": False,
            "members": [],
        },
        "describe_unknown": "GROUP_ID_NOT_FOUND",
        "delete_unknown": "GROUP_ID_NOT_FOUND",
    },
}


def run_simulated(program: str, seed: int = 0) -> dict:
    """Run one program on a fresh simulation (named after it) and return what it observed."""
    from eda_sim.core.simulation import Simulation

    fn, kwargs = PROGRAMS[program]
    name = "conformance-" + "".join(c if c.isalnum() else "-" for c in program)
    sim = Simulation(seed=seed, name=name)
    return fn(Target(simulated_client(), sim.bootstrap_servers, "c"), **kwargs)


#: Consumer settings for Tansu: its group joins wait for the session timeout to pass half-way
#: (about 3 s at Kafka's smallest allowed 6000 ms), and it accepts shorter ones than Kafka would.
#: Not shorter than 3 s: at 1 s a member's session lapsed on a loaded 2-core machine (the whole
#: suite running beside it), and it joined again owning nothing.
TANSU_GROUP_CONF = {"session.timeout.ms": 3000, "heartbeat.interval.ms": 300}


def run_real(bootstrap: str, programs=None, group_conf: dict | None = None) -> dict:
    """Run ``programs`` (default: all) against a real broker at once, each on its own topics and groups.

    Returns ``{program: observed}``, or the exception a program raised in its place.
    """
    client = confluent_client()
    names = list(PROGRAMS if programs is None else programs)
    conf = TANSU_GROUP_CONF if group_conf is None else group_conf

    def one(index_name):
        index, name = index_name
        fn, kwargs = PROGRAMS[name]
        try:
            return fn(Target(client, bootstrap, f"p{index}", dict(conf)), **kwargs)
        except Exception as exc:  # reported per program, so one failure does not hide the rest
            return exc

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        return dict(zip(names, pool.map(one, enumerate(names))))
