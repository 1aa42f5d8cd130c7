"""A commit of the stored offsets sends only offsets beyond the committed one, as librdkafka does.

librdkafka leaves out of a commit of stored offsets every partition whose
stored offset is not greater than the committed offset it knows (fetched at
assignment, moved by its own commits): ``commit()`` then raises
``_NO_OFFSET``, and the auto-commit timer sends nothing. Observed with
confluent-kafka 2.16 on a real broker (the conformance program
``store_offsets``); here the same rule under random programs, and for the timer
after a seek back.
"""

from hypothesis import given, settings
from hypothesis import strategies as st

from eda_sim import Simulation
from eda_sim.kafka import KafkaException, TopicPartition

N = 12


def _consumer(sim, **conf):
    c = sim.consumer(
        {"group.id": "g", "auto.offset.reset": "earliest", "enable.auto.commit": False, **conf}
    )
    c.subscribe(["t"])
    return c


def _world():
    sim = Simulation(seed=2, name="commit-stored")
    sim.create_topic("t", partitions=1)
    p = sim.producer()
    for i in range(N):
        p.produce("t", value=str(i), partition=0)
    p.flush()
    return sim


ops = st.lists(
    st.one_of(
        st.tuples(st.just("store"), st.integers(0, N)),
        st.tuples(st.just("commit"), st.just(0)),
        st.tuples(st.just("commit_explicit"), st.integers(0, N)),
    ),
    max_size=15,
)


@settings(max_examples=40, deadline=None)
@given(ops)
def test_commit_sends_a_stored_offset_only_when_it_passes_the_committed_one(program):
    sim = _world()
    c = _consumer(sim, **{"enable.auto.offset.store": False})
    c.consume(N, 0.5)
    tp = TopicPartition("t", 0)
    known, stored = None, None  # what the client committed, what it stored
    for op, offset in program:
        if op == "store":
            c.store_offsets(offsets=[TopicPartition("t", 0, offset)])
            stored = offset
        elif op == "commit_explicit":
            c.commit(offsets=[TopicPartition("t", 0, offset)], asynchronous=False)
            known = offset
        else:
            sends = stored is not None and (known is None or stored > known)
            try:
                done = c.commit(asynchronous=False)
            except KafkaException as exc:
                assert not sends and exc.args[0].name() == "_NO_OFFSET"
            else:
                assert sends and [(x.partition, x.offset) for x in done] == [(0, stored)]
                known = stored
        want = -1001 if known is None else known
        assert c.committed([tp])[0].offset == want


def test_the_auto_commit_timer_does_not_move_the_group_back_after_a_seek():
    sim = _world()
    c = _consumer(sim, **{"enable.auto.commit": True, "auto.commit.interval.ms": 1000})
    tp = TopicPartition("t", 0)
    c.consume(N, 0.5)
    c.poll(1.5)  # the timer fires meanwhile: the positions handed out are committed
    assert c.committed([tp])[0].offset == N
    c.seek(TopicPartition("t", 0, 3))
    c.consume(2, 0.5)  # stored offset 5, behind the committed 12
    c.poll(1.5)
    assert c.committed([tp])[0].offset == N  # librdkafka sends nothing: 5 is not beyond 12
    c.commit(
        offsets=[TopicPartition("t", 0, 5)], asynchronous=False
    )  # explicit offsets may go back
    assert c.committed([tp])[0].offset == 5
