"""AppendLog behaves as an append-only list, whatever the chunk boundaries; the collector skips full chunks."""

import gc
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_sim.core.appendlog import CHUNK, AppendLog


class Pair(NamedTuple):
    n: int
    tag: str


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 3 * CHUNK + 5),
    extra=st.integers(0, CHUNK + 3),
    at=st.integers(0, 5),
    probes=st.lists(st.integers(-4000, 4000), max_size=20),
    typed=st.booleans(),
)
def test_reads_like_the_list_it_was_given(n, extra, at, probes, typed):
    log, ref = AppendLog(row_type=Pair if typed else None), []
    for i in range(n):
        log.append((i, "a"))
        ref.append((i, "a"))
    assert len(log) == len(ref) and list(log) == ref
    for i in probes:
        if -len(ref) <= i < len(ref):
            assert log[i] == ref[i]
        assert log.since(i) == (ref[i:] if i >= 0 else ref)
    assert log[at:n:3] == ref[at:n:3] and log[-7:] == ref[-7:]
    # rows appended while a reader is part-way through are seen, as with a list
    it = iter(log)
    seen = [next(it) for _ in range(min(at, n))]
    for i in range(extra):
        log.append((n + i, "b"))
        ref.append((n + i, "b"))
    assert seen + list(it) == ref
    if typed:  # rows come out as the row type, wherever they are read from
        assert all(type(r) is Pair for r in [*log, *log.since(at), *log[::97]])


def test_an_index_out_of_range_says_how_many_rows_there_are():
    log = AppendLog([(1,), (2,)])
    try:
        log[2]
    except IndexError as err:
        assert "2 rows" in str(err)
    else:
        raise AssertionError("no IndexError")


def test_full_chunks_of_plain_rows_are_not_tracked_by_the_garbage_collector():
    log = AppendLog()
    for i in range(CHUNK * 3):
        log.append((float(i), "handled", f"evt-{i}"))
    gc.collect()
    gc.collect()  # a chunk is untracked once its rows are, which may take a second pass
    assert not any(gc.is_tracked(c) for c in log._chunks)


def test_a_typed_log_converts_a_chunk_once_when_it_is_first_read_and_only_written_chunks_stay_untracked():
    log = AppendLog(row_type=Pair)
    for i in range(CHUNK * 3 + 5):
        log.append((i, "x"))
    gc.collect()
    gc.collect()
    assert not any(gc.is_tracked(c) for c in log._chunks)  # written, never read
    first = log[5]
    assert (
        first == Pair(5, "x") and type(first) is Pair and log[5] is first
    )  # converted once, then kept
    assert log._typed == 1 and type(log._chunks[1][0]) is tuple  # only as far as was read
    assert [r.n for r in log][-1] == CHUNK * 3 + 4 and log._typed == 3


def test_a_span_log_refuses_a_row_of_the_wrong_shape_and_hands_out_spans():
    from eda_sim.core.spans import Span, SpanLog

    spans = SpanLog()
    with pytest.raises(ValueError, match="a span has 15 fields"):
        spans.append(("svc", "svc-1"))
    row = ("svc", "svc-1", "evt-1", "T", "evt-1", "", "in", 0, 0, 0.0, 0.1, 0.2, "handled", 1, "")
    spans.append(row)
    assert len(spans) == 1 and spans[0] == Span(*row) and type(spans[-1]) is Span
