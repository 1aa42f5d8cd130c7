"""The admin client's consumer-group calls keep Kafka's coordinator rules (eda_sim.kafka.admin_groups).

Offsets are altered only in an empty group (UNKNOWN_MEMBER_ID otherwise, per partition), a
consumer resumes where an admin put the offset, a group with members cannot be deleted
(NON_EMPTY_GROUP), and describe/list report state, type, assignor and assignments."""

import pytest

from eda_sim import Simulation
from eda_sim.core.replay import state_at
from eda_sim.kafka import (
    AdminClient,
    Consumer,
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    ConsumerGroupType,
    Producer,
    TopicPartition,
)
from eda_sim.kafka import admin as admin_module


@pytest.fixture
def world():
    sim = Simulation(seed=3, name="admin-groups")
    sim.create_topic("t", partitions=2)
    p = Producer({"bootstrap.servers": sim.bootstrap_servers})
    for i in range(6):
        p.produce("t", value=f"v{i}", partition=0)
    p.flush()
    return sim, AdminClient({"bootstrap.servers": sim.bootstrap_servers})


def _member(sim, group="g", **conf):
    c = Consumer(
        {
            "bootstrap.servers": sim.bootstrap_servers,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **conf,
        }
    )
    c.subscribe(["t"])
    return c


def _values(c, polls=20):
    out = []
    for _ in range(polls):
        m = c.poll(0.2)
        if m is not None and m.error() is None:
            out.append((m.partition(), m.offset()))
    return out


def _offsets(admin, group, tps=None):
    got = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group, tps)])
    return [(tp.topic, tp.partition, tp.offset) for tp in got[group].result().topic_partitions]


def test_the_request_types_import_as_in_confluent_kafka():
    assert admin_module.ConsumerGroupTopicPartitions is ConsumerGroupTopicPartitions
    req = ConsumerGroupTopicPartitions("g")
    assert (req.group_id, req.topic_partitions) == ("g", None)


def test_listing_shows_what_the_group_committed_and_invalid_where_it_did_not(world):
    sim, admin = world
    c = _member(sim)
    _values(c)
    c.commit(offsets=[TopicPartition("t", 0, 4)], asynchronous=False)
    assert _offsets(admin, "g") == [("t", 0, 4)]
    named = [TopicPartition("t", 0), TopicPartition("t", 1)]
    assert _offsets(admin, "g", named) == [("t", 0, 4), ("t", 1, -1001)]
    assert _offsets(admin, "never-seen") == []


def test_altering_a_group_with_members_fails_each_partition_with_unknown_member_id(world):
    sim, admin = world
    c = _member(sim)
    _values(c)
    c.commit(offsets=[TopicPartition("t", 0, 4)], asynchronous=False)
    req = [ConsumerGroupTopicPartitions("g", [TopicPartition("t", 0, 1)])]
    result = admin.alter_consumer_group_offsets(req)[
        "g"
    ].result()  # resolves: errors are per partition
    [tp] = result.topic_partitions
    assert tp.error.name() == "UNKNOWN_MEMBER_ID" and "empty" in tp.error.str()
    assert _offsets(admin, "g") == [("t", 0, 4)]


def test_altered_offsets_of_an_empty_group_are_where_a_new_member_resumes(world):
    sim, admin = world
    c = _member(sim)
    _values(c)
    c.commit(offsets=[TopicPartition("t", 0, 6)], asynchronous=False)
    c.close()
    req = [ConsumerGroupTopicPartitions("g", [TopicPartition("t", 0, 2)])]
    [tp] = admin.alter_consumer_group_offsets(req)["g"].result().topic_partitions
    assert (tp.offset, tp.error) == (2, None)
    rows = [r for r in sim.journal.rows("committed") if r.actor == "admin"]
    assert [(r.group, r.topic, r.partition, r.offset) for r in rows] == [("g", "t", 0, 2)]
    assert state_at(sim).committed[("g", "t", 0)] == 2
    again = _member(sim)
    assert [o for p, o in _values(again) if p == 0] == [2, 3, 4, 5]


def test_an_unknown_partition_fails_alone_and_a_new_group_id_is_created_simple(world):
    sim, admin = world
    req = [
        ConsumerGroupTopicPartitions(
            "fresh",
            [TopicPartition("t", 1, 0), TopicPartition("nope", 0, 3), TopicPartition("t", 9, 1)],
        )
    ]
    tps = admin.alter_consumer_group_offsets(req)["fresh"].result().topic_partitions
    assert [tp.error and tp.error.name() for tp in tps] == [
        None,
        "UNKNOWN_TOPIC_OR_PART",
        "UNKNOWN_TOPIC_OR_PART",
    ]
    assert _offsets(admin, "fresh") == [("t", 1, 0)]
    [listing] = admin.list_consumer_groups().result().valid
    assert (listing.group_id, listing.is_simple_consumer_group, listing.state) == (
        "fresh",
        True,
        ConsumerGroupState.EMPTY,
    )


@pytest.mark.parametrize(
    "request_, error, words",
    [
        (None, TypeError, "cannot be None"),
        (ConsumerGroupTopicPartitions("g"), TypeError, "must be a list"),
        ([], ValueError, "single consumer group"),
        (
            [ConsumerGroupTopicPartitions("g"), ConsumerGroupTopicPartitions("h")],
            ValueError,
            "single",
        ),
        (["g"], TypeError, "ConsumerGroupTopicPartitions"),
        ([ConsumerGroupTopicPartitions("")], ValueError, "cannot be empty"),
        ([ConsumerGroupTopicPartitions(7)], TypeError, "must be a string"),
        ([ConsumerGroupTopicPartitions("g", [])], ValueError, "cannot be empty"),
        ([ConsumerGroupTopicPartitions("g", [("t", 0)])], TypeError, "TopicPartition"),
        ([ConsumerGroupTopicPartitions("g", [TopicPartition("t", -1)])], ValueError, "partition"),
        ([ConsumerGroupTopicPartitions("g", [TopicPartition("t", 0, 3)])], ValueError, "name only"),
    ],
)
def test_bad_list_requests_are_refused_at_once_saying_what_was_expected(
    world, request_, error, words
):
    _sim, admin = world
    with pytest.raises(error, match=words):
        admin.list_consumer_group_offsets(request_)


@pytest.mark.parametrize(
    "tps, error, words",
    [
        (None, ValueError, "cannot be null"),
        ([TopicPartition("t", 0)], ValueError, "negative value for 'offset'"),
        ([TopicPartition("t", 0, -2)], ValueError, "resume from"),
        ("t", TypeError, "must be a list"),
    ],
)
def test_bad_alter_requests_are_refused_at_once(world, tps, error, words):
    _sim, admin = world
    with pytest.raises(error, match=words):
        admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions("g", tps)])


def test_describe_reports_state_type_assignor_members_and_their_partitions(world):
    sim, admin = world
    a = _member(sim, **{"partition.assignment.strategy": "roundrobin", "client.id": "app"})
    b = _member(sim, **{"partition.assignment.strategy": "roundrobin"})
    _values(a, 2)
    _values(b, 2)
    _values(a, 2)
    d = admin.describe_consumer_groups(["g"])["g"].result()
    assert (d.state, d.type, d.partition_assignor) == (
        ConsumerGroupState.STABLE,
        ConsumerGroupType.CLASSIC,
        "roundrobin",
    )
    assert d.is_simple_consumer_group is False and d.coordinator.id == 0
    parts = {
        m.member_id: [(tp.topic, tp.partition) for tp in m.assignment.topic_partitions]
        for m in d.members
    }
    assert parts == {a.member_id: [("t", 0)], b.member_id: [("t", 1)]}
    assert [m.client_id for m in d.members] == ["app", "rdkafka"]
    a.close()
    b.close()
    d = admin.describe_consumer_groups(["g"])["g"].result()
    assert (d.state, d.members, d.partition_assignor) == (ConsumerGroupState.EMPTY, [], "")


def test_a_kip_848_group_is_described_as_consumer_type_with_targets(world):
    sim, admin = world
    c = _member(sim, **{"group.protocol": "consumer"})
    _values(c, 3)
    d = admin.describe_consumer_groups(["g"])["g"].result()
    assert d.type is ConsumerGroupType.CONSUMER and d.partition_assignor == "uniform"
    [m] = d.members
    owned = [(tp.topic, tp.partition) for tp in m.assignment.topic_partitions]
    target = [(tp.topic, tp.partition) for tp in m.target_assignment.topic_partitions]
    assert owned == target == [("t", 0), ("t", 1)]


def test_an_unknown_group_is_not_found_when_described_or_deleted(world):
    _sim, admin = world
    for call in (admin.describe_consumer_groups, admin.delete_consumer_groups):
        err = call(["ghost"])["ghost"].exception()
        assert err.args[0].name() == "GROUP_ID_NOT_FOUND"


def test_a_group_with_members_is_not_deleted_an_empty_one_goes_with_its_offsets(world):
    sim, admin = world
    c = _member(sim)
    _values(c)
    c.commit(offsets=[TopicPartition("t", 0, 3)], asynchronous=False)
    err = admin.delete_consumer_groups(["g"])["g"].exception()
    assert err.args[0].name() == "NON_EMPTY_GROUP"
    c.close()
    assert admin.delete_consumer_groups(["g"])["g"].result() is None
    assert "g" not in sim.groups and _offsets(admin, "g") == []
    assert ("g", "t", 0) not in state_at(sim).committed  # the journal's replay agrees
    fresh = _member(sim)
    assert [o for p, o in _values(fresh) if p == 0][:1] == [0]


def test_list_filters_by_state_and_type(world):
    sim, admin = world
    live = _member(sim, "live")
    _values(live, 2)
    admin.alter_consumer_group_offsets(
        [ConsumerGroupTopicPartitions("idle", [TopicPartition("t", 0, 1)])]
    )
    ids = lambda **kw: [g.group_id for g in admin.list_consumer_groups(**kw).result().valid]  # noqa: E731
    assert ids() == ["idle", "live"]
    assert ids(states={ConsumerGroupState.STABLE}) == ["live"]
    assert ids(types={ConsumerGroupType.CONSUMER}) == []
    with pytest.raises(TypeError, match="must be a set"):
        admin.list_consumer_groups(states=[ConsumerGroupState.STABLE])
    with pytest.raises(TypeError, match="STABLE"):
        admin.list_consumer_groups(states={"Stable"})


@pytest.mark.parametrize(
    "call, arg, error",
    [
        ("describe_consumer_groups", "g", TypeError),
        ("describe_consumer_groups", [], ValueError),
        ("delete_consumer_groups", [3], TypeError),
    ],
)
def test_describe_and_delete_take_a_non_empty_list_of_ids(world, call, arg, error):
    _sim, admin = world
    with pytest.raises(error, match="group"):
        getattr(admin, call)(arg)
