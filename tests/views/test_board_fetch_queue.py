"""The board shows each consumer's local fetch queue as the journal tells it (issue 13, item 4).

The board is a view of the journal: ``fetched`` and ``paused`` come from the
``fetched``, ``paused`` and ``resumed`` rows the client writes. Whatever a
program does (poll, consume, pause, resume, seek, produce more), replaying the
journal to any instant must give what the live client held at that instant:
its queue's end (librdkafka's ``next_offset``), its position and its paused
partitions.
"""

import matplotlib

matplotlib.use("Agg")

from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from eda_sim import Simulation  # noqa: E402
from eda_sim.kafka import TopicPartition  # noqa: E402
from eda_sim.views.partition_board import board, draw_board  # noqa: E402

PARTS = 2
STEP = 0.5  # virtual seconds between steps: each step is its own instant in the journal

ops = st.one_of(
    st.tuples(st.just("produce"), st.integers(0, PARTS - 1), st.integers(1, 40)),
    st.tuples(st.just("consume"), st.integers(1, 30)),
    st.tuples(st.just("poll"), st.just(0)),
    st.tuples(st.just("pause"), st.integers(0, PARTS - 1)),
    st.tuples(st.just("resume"), st.integers(0, PARTS - 1)),
    st.tuples(st.just("seek"), st.integers(0, PARTS - 1), st.integers(0, 30)),
)


def _world(min_msgs: int):
    sim = Simulation(seed=5, name="fetch-queue-board")
    sim.create_topic("t", partitions=PARTS)
    producer = sim.producer()
    consumer = sim.consumer(
        {
            "group.id": "g",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "queued.min.messages": min_msgs,
        }
    )
    consumer.subscribe(["t"])
    consumer.poll(0.1)  # join: the single member owns every partition
    return sim, producer, consumer


def _produce(producer, n: int, partition: int = 0) -> None:
    for i in range(n):
        producer.produce("t", value=f"v{i}", partition=partition)
    producer.flush()


def _live(consumer) -> dict:
    """partition -> (position, fetched end, paused) as the client itself holds them."""
    stats = consumer.stats()["topics"].get("t", {"partitions": {}})["partitions"]
    paused = {tp.partition for tp in consumer.paused()}
    out = {}
    for tp in consumer.position(consumer.assignment()):
        nxt = stats[str(tp.partition)]["next_offset"]
        pos = None if tp.offset < 0 else tp.offset
        out[tp.partition] = (pos, None if pos is None else max(pos, nxt), tp.partition in paused)
    return out


def _seen(sim, time) -> dict:
    frame = board(sim, "t", time=time, group="g")
    return {
        int(r.partition): (
            None if str(r.position) == "<NA>" else int(r.position),
            None if str(r.fetched) == "<NA>" else int(r.fetched),
            bool(r.paused),
        )
        for r in frame.itertuples()
    }


@settings(max_examples=30, deadline=None)
@given(st.lists(ops, min_size=1, max_size=12), st.sampled_from([1, 5, 100000]))
@example([("produce", 0, 20), ("consume", 5), ("seek", 0, 2)], 100000)  # a seek purges the queue
@example([("produce", 1, 9), ("poll", 0), ("pause", 1), ("resume", 1)], 5)
def test_the_board_replays_the_clients_fetch_queue_at_every_instant(program, min_msgs):
    sim, producer, consumer = _world(min_msgs)
    expected = []
    for op in program:
        if op[0] == "produce":
            _produce(producer, op[2], op[1])
        elif op[0] == "consume":
            consumer.consume(op[1], 0)
        elif op[0] == "poll":
            consumer.poll(0)
        elif op[0] == "pause":
            consumer.pause([TopicPartition("t", op[1])])
        elif op[0] == "resume":
            consumer.resume([TopicPartition("t", op[1])])
        else:
            end = sim.topic("t").partitions[op[1]].log_end_offset
            consumer.seek(TopicPartition("t", op[1], min(op[2], end)))
        expected.append((sim.now, _live(consumer)))
        sim.run(until=sim.now + STEP)
    for when, live in expected:
        assert _seen(sim, when) == live, f"at t={when}"


def test_a_slow_consumer_holds_its_backlog_in_memory_and_pause_drops_it():
    sim, producer, consumer = _world(100000)
    for i in range(60):
        producer.produce("t", value=f"v{i}", partition=i % PARTS)
    producer.flush()
    consumer.consume(4, 0)
    now = board(sim, "t", group="g").set_index("partition")
    # librdkafka fetched everything there was: from the position to the log end is in memory
    assert list(now["fetched"]) == list(now["log_end"])
    assert (now["fetched"] - now["position"]).sum() == consumer.queued_records == 56
    consumer.pause([TopicPartition("t", 0)])
    paused = board(sim, "t", group="g").set_index("partition")
    assert bool(paused.loc[0, "paused"]) and not bool(paused.loc[1, "paused"])
    assert paused.loc[0, "fetched"] == paused.loc[0, "position"]  # the queue was purged
    rows = sim.journal.rows("paused")
    assert [r.data for r in rows] == [(("t", 0),)] and "dropped" in rows[0].detail
    texts = [t.get_text() for t in draw_board(sim, "t", group="g").axes[0].texts]
    assert sum("paused" in t for t in texts) == 1
    consumer.resume([TopicPartition("t", 0)])
    consumer.poll(0)
    again = board(sim, "t", group="g").set_index("partition")
    assert not again["paused"].any() and list(again["fetched"]) == list(again["log_end"])


def test_the_board_draws_the_fetched_band_from_position_to_fetched():
    sim, producer, consumer = _world(100000)
    _produce(producer, 30)
    consumer.consume(10, 0)
    fig = draw_board(sim, "t", group="g")
    ax = fig.axes[0]
    bands = [p for p in ax.patches if p.get_height() < 0.2]
    assert [(round(b.get_x()), round(b.get_width())) for b in bands] == [(10, 20)]
    assert "fetched, in memory" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_a_crashed_owner_holds_nothing():
    sim, producer, consumer = _world(100000)
    _produce(producer, 10)
    consumer.consume(3, 0)
    sim.crash(consumer)
    row = board(sim, "t", group="g").set_index("partition").loc[0]
    assert bool(row["crashed"]) and str(row["fetched"]) == "<NA>" and row["position"] == 3


# -- a consumer that assigns its partitions by hand (assign / unassign / incremental_*) ----------

manual_ops = st.one_of(
    ops,
    st.tuples(
        st.just("assign"), st.lists(st.integers(0, PARTS - 1), unique=True), st.integers(-2, 30)
    ),
    st.tuples(st.just("add"), st.integers(0, PARTS - 1), st.integers(-2, 30)),
    st.tuples(st.just("remove"), st.integers(0, PARTS - 1)),
    st.tuples(st.just("unassign"), st.just(0)),
)


def _manual_world(min_msgs: int):
    sim = Simulation(seed=5, name="fetch-queue-board-manual")
    sim.create_topic("t", partitions=PARTS)
    consumer = sim.consumer(
        {
            "group.id": "g",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "queued.min.messages": min_msgs,
        }
    )
    return sim, sim.producer(), consumer


def _live_manual(consumer) -> dict:
    """Every partition: what the client holds for it, (None, None, False) when it is not assigned."""
    live = _live(consumer)
    return {p: live.get(p, (None, None, False)) for p in range(PARTS)}


@settings(max_examples=30, deadline=None)
@given(st.lists(manual_ops, min_size=1, max_size=12), st.sampled_from([1, 5, 100000]))
@example([("produce", 0, 9), ("assign", [0], 3), ("consume", 4), ("unassign", 0)], 5)
@example([("produce", 1, 9), ("add", 1, -2), ("poll", 0), ("remove", 1), ("add", 1, 4)], 100000)
def test_the_board_replays_a_manually_assigned_consumer_at_every_instant(program, min_msgs):
    sim, producer, consumer = _manual_world(min_msgs)
    expected = []
    for op in program:
        owned = {tp.partition for tp in consumer.assignment()}
        if op[0] == "produce":
            for i in range(op[2]):
                producer.produce("t", value=f"v{i}", partition=op[1])
            producer.flush()
        elif op[0] in ("consume", "poll"):
            consumer.consume(max(op[1], 1), 0)
        elif op[0] == "assign":
            consumer.assign([TopicPartition("t", p, op[2]) for p in op[1]])
        elif op[0] == "add" and op[1] not in owned:
            consumer.incremental_assign([TopicPartition("t", op[1], op[2])])
        elif op[0] == "remove" and op[1] in owned:
            consumer.incremental_unassign([TopicPartition("t", op[1])])
        elif op[0] == "unassign":
            consumer.unassign()
        elif op[0] in ("pause", "resume"):
            getattr(consumer, op[0])([TopicPartition("t", op[1])])
        elif op[0] == "seek" and op[1] in owned:
            end = sim.topic("t").partitions[op[1]].log_end_offset
            consumer.seek(TopicPartition("t", op[1], min(op[2], end)))
        expected.append((sim.now, _live_manual(consumer)))
        sim.run(until=sim.now + STEP)
    first = [r.time for r in sim.journal.rows("assigned")]
    for when, live in expected:
        if not first or when < first[0]:
            # before its first assignment the group reads nothing: the board has no row for it
            assert live == {p: (None, None, False) for p in range(PARTS)}
            continue
        assert _seen(sim, when) == live, f"at t={when}"
