"""The cooperative-sticky assignor keeps as much as balance allows (eda_sim.broker.group)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from eda_sim.broker.group import assign_sticky


@settings(max_examples=60, deadline=None)
@given(
    n_members=st.integers(1, 4),
    n_parts=st.integers(0, 9),
    owners=st.lists(st.integers(-1, 3), min_size=9, max_size=9),
)
def test_sticky_assignment_is_balanced_and_keeps_the_most_it_can(n_members, n_parts, owners):
    members = [f"m{i}" for i in range(n_members)]
    subs = {m: {"t"} for m in members}
    # The current assignment: ("t", p) owned by members[owners[p]], or by nobody. Partitions at
    # n_parts and above are gone (the topic was recreated smaller): a member may still list them.
    current = {m: [] for m in members}
    for p, owner in enumerate(owners):
        if 0 <= owner < n_members:
            current[members[owner]].append(("t", p))
    out = assign_sticky(members, subs, {"t": n_parts}, current)

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
