"""The classic group's assignors (eda_sim.broker.group).

``assign_sticky`` is librdkafka's cooperative-sticky assignor, ported: the
cases below are the ones checked against confluent-kafka on a real broker
(``sticky_scaling`` and ``sticky_two_topics`` in the conformance suite), and
the properties are the assignor's promises. ``assign_uniform`` is the KIP-848
group's model of the broker's uniform assignor.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_sim.broker.group import assign_sticky, assign_uniform


def t(*parts, topic="t"):
    return [(topic, p) for p in parts]


@pytest.mark.parametrize("ids", [["a", "b"], ["b", "a"]])
def test_a_newcomer_takes_the_owners_first_partition_whatever_the_member_ids(ids):
    owner, newcomer = ids
    out = assign_sticky(ids, {m: {"t"} for m in ids}, {"t": 3}, {owner: t(0, 1, 2)})
    assert out == {owner: t(1, 2), newcomer: t(0)}


@pytest.mark.parametrize("ids", [["a", "b", "c"], ["c", "b", "a"], ["b", "c", "a"]])
def test_a_third_member_takes_the_first_partition_of_each_owner(ids):
    first, second, third = ids
    subs = {m: {"t"} for m in ids}
    out = assign_sticky(ids, subs, {"t": 6}, {first: t(3, 4, 5), second: t(0, 1, 2)})
    assert out == {first: t(4, 5), second: t(1, 2), third: t(0, 3)}


def test_a_leavers_partitions_go_highest_first_to_the_least_loaded_ties_to_the_lower_id():
    # librdkafka lists the partitions nobody owns in the reverse of their order (its hash map
    # iterates newest first): 2 is placed before 1, and the tie goes to the lower member id.
    subs = {m: {"t"} for m in "ac"}
    out = assign_sticky(["a", "c"], subs, {"t": 6}, {"a": t(4, 5), "c": t(0, 3)})
    assert out == {"a": t(2, 4, 5), "c": t(0, 1, 3)}
    out = assign_sticky(
        ["c", "z"], {"c": {"t"}, "z": {"t"}}, {"t": 6}, {"z": t(4, 5), "c": t(0, 3)}
    )
    assert out == {"c": t(0, 2, 3), "z": t(1, 4, 5)}


def test_different_subscriptions_move_the_shared_topic_in_partition_order():
    subs = {"a": {"x", "y"}, "b": {"y"}, "c": {"x", "y"}}
    every = t(0, 1, topic="x") + t(0, 1, 2, 3, topic="y")
    two = assign_sticky(["a", "b"], subs, {"x": 2, "y": 4}, {"a": every})
    assert two == {"a": t(0, 1, topic="x") + t(3, topic="y"), "b": t(0, 1, 2, topic="y")}
    three = assign_sticky(["a", "b", "c"], subs, {"x": 2, "y": 4}, two)
    assert three == {
        "a": t(1, topic="x") + t(3, topic="y"),
        "b": t(1, 2, topic="y"),
        "c": t(0, topic="x") + t(0, topic="y"),
    }


def test_a_member_that_unsubscribes_from_a_topic_gives_its_partitions_up():
    subs = {"a": {"y"}, "b": {"x", "y"}}
    current = {"a": t(0, 1, topic="x"), "b": t(0, 1, topic="y")}
    out = assign_sticky(["a", "b"], subs, {"x": 2, "y": 2}, current)
    # x goes to b, its only taker; then y moves to a in order while b holds two more.
    assert out == {"a": t(0, 1, topic="y"), "b": t(0, 1, topic="x")}


def test_the_higher_generation_keeps_a_partition_two_members_claim():
    ids = ["a", "b"]
    subs = {m: {"t"} for m in ids}
    current = {"a": t(0, 1), "b": t(1)}
    out = assign_sticky(ids, subs, {"t": 2}, current, generations={"a": 3, "b": 4})
    assert out == {"a": t(0), "b": t(1)}
    # Claimed twice in one generation: librdkafka drops the claim for both, and assigns anew.
    tied = assign_sticky(ids, subs, {"t": 2}, current, generations={"a": 4, "b": 4})
    assert sorted(tied["a"] + tied["b"]) == t(0, 1) and tied["a"] == t(0)


def test_new_partitions_and_vanished_ones():
    ids = ["a", "b"]
    subs = {m: {"t"} for m in ids}
    out = assign_sticky(ids, subs, {"t": 4}, {"a": t(0, 7), "b": t(1)})  # 7 is gone; 2, 3 are new
    assert sorted(out["a"] + out["b"]) == t(0, 1, 2, 3)
    assert ("t", 0) in out["a"] and ("t", 1) in out["b"] and len(out["a"]) == len(out["b"]) == 2


TOPICS = {"x": 3, "y": 4}


@settings(max_examples=40, deadline=None)
@given(
    n_members=st.integers(1, 4),
    identical=st.booleans(),
    picks=st.lists(st.sampled_from([("x",), ("y",), ("x", "y")]), min_size=4, max_size=4),
    owners=st.lists(st.integers(-1, 3), min_size=9, max_size=9),
)
def test_sticky_assignment_properties(n_members, identical, picks, owners):
    members = [f"m{i}" for i in range(n_members)]
    subs = {m: {"x", "y"} if identical else set(picks[i]) for i, m in enumerate(members)}
    # Current owners: x-0..2 then y-0..3 (and y-4, y-5, which no longer exist), disjoint.
    every = t(0, 1, 2, topic="x") + t(0, 1, 2, 3, 4, 5, topic="y")
    current = {m: [] for m in members}
    for tp, owner in zip(every, owners):
        if 0 <= owner < n_members:
            current[members[owner]].append(tp)
    out = assign_sticky(members, subs, TOPICS, current)

    # Every partition of a subscribed topic goes to exactly one member subscribed to it.
    wanted = sorted(
        (x, p) for x in TOPICS if any(x in s for s in subs.values()) for p in range(TOPICS[x])
    )
    assert sorted(tp for parts in out.values() for tp in parts) == wanted
    assert all(tp[0] in subs[m] for m, parts in out.items() for tp in parts)
    if identical:
        sizes = [len(out[m]) for m in members]
        assert max(sizes) - min(sizes) <= 1
        # Sticky: a member holding no more than its share of the partitions that still exist
        # keeps all of them; partitions move only away from members above the quota.
        quota = len(wanted) // n_members
        for m in members:
            valid = [tp for tp in current[m] if tp in wanted]
            if len(valid) <= quota:
                assert set(valid) <= set(out[m]), (current, out)


@settings(max_examples=40, deadline=None)
@given(
    n_members=st.integers(1, 4),
    n_parts=st.integers(0, 9),
    owners=st.lists(st.integers(-1, 3), min_size=9, max_size=9),
)
def test_uniform_assignment_is_balanced_and_keeps_the_most_it_can(n_members, n_parts, owners):
    members = [f"m{i}" for i in range(n_members)]
    subs = {m: {"t"} for m in members}
    # The current assignment: ("t", p) owned by members[owners[p]], or by nobody. Partitions at
    # n_parts and above are gone (the topic was recreated smaller): a member may still list them.
    current = {m: [] for m in members}
    for p, owner in enumerate(owners):
        if 0 <= owner < n_members:
            current[members[owner]].append(("t", p))
    out = assign_uniform(members, subs, {"t": n_parts}, current)

    given_out = sorted(tp for parts in out.values() for tp in parts)
    assert given_out == [("t", p) for p in range(n_parts)]  # each partition to exactly one member
    sizes = [len(out[m]) for m in members]
    assert max(sizes) - min(sizes) <= 1
    # Balance lets each member keep at most floor partitions, and `extra` members one more: the
    # most that can stay put is what each keeps up to floor, plus one for as many members as
    # own more than floor, up to `extra`.
    floor, extra = divmod(n_parts, n_members)
    owned = [sum(p < n_parts for _, p in current[m]) for m in members]
    best = sum(min(o, floor) for o in owned) + min(extra, sum(o > floor for o in owned))
    kept = sum(len(set(out[m]) & set(current[m])) for m in members)
    assert kept == best, (current, out)


def test_cooperative_handover_revokes_what_the_assignor_moves_then_assigns_it():
    """KIP-429 on the simulated group: a revoke round, then the assignor's second run hands it out."""
    from eda_sim.core.simulation import Simulation

    sim = Simulation(seed=1, name="sticky-handover")
    sim.create_topic("t", partitions=6)
    members = []
    for _ in range(3):
        c = sim.consumer({"group.id": "g", "partition.assignment.strategy": "cooperative-sticky"})
        c.subscribe(["t"])
        members.append(c)
        for m in members:
            m.poll(0.1)
    a, b, c = members
    held = [sorted(tp.partition for tp in m.assignment()) for m in members]
    assert held == [[4, 5], [1, 2], [0, 3]]
    rows = sim.journal.frame()
    rows = rows[(rows.group == "g") & rows.kind.isin(["revoked", "rebalanced", "assigned"])]
    last = rows[rows.time == rows.time.max()]
    revoked = last[last.kind == "revoked"]
    assert sorted(zip(revoked.actor, revoked.detail)) == sorted(
        [(a.memberid(), "[t-3]"), (b.memberid(), "[t-0]")]
    )
    assert list(last[last.kind == "assigned"].detail) == ["[t-0,t-3]"]
    kinds = list(last.kind)
    assert kinds.index("assigned") > max(i for i, k in enumerate(kinds) if k == "revoked")
    assert "revoke round" in last[last.kind == "rebalanced"].detail.iloc[0]
