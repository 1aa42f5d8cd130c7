"""The numbers the notebooks' prose quotes are the numbers their runs produce.

nbval proves a notebook repeats its own saved output; it never reads the markdown beside it, so a
sentence such as "the lag peaks at 559 requests" goes stale the day the simulation changes. Here
each quoted number is read from the notebook's SOURCE (``notebooks/src/NN_*.py``, where the prose is
written) and compared with the value computed from the notebook's world, or, where a recomputation
would be slow, from the saved notebook's output (which nbval keeps equal to a fresh run). Changing
either the sentence or the simulation fails a test here.

A claim's pattern must match its notebook's prose exactly once: a reworded sentence fails loudly
rather than silently leaving its number unchecked.
"""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from pathlib import Path

import nbformat
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from build_notebooks import parse  # noqa: E402  (the one parser of notebook sources)

WORDS = {
    "no": 0, "none": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip


# -- reading the prose and the saved outputs ---------------------------------------------------


@cache
def prose(nn: str) -> str:
    """The markdown of notebook ``nn``'s source, one line (line breaks inside a sentence vanish)."""
    (src,) = (ROOT / "notebooks" / "src").glob(f"{nn}_*.py")
    text = " ".join(
        c["source"] for c in parse(src.read_text(encoding="utf-8")) if c["kind"] == "markdown"
    )
    return re.sub(r"\s+", " ", text)


def said(nn: str, pattern: str):
    """The groups of ``pattern``'s one match in notebook ``nn``'s prose, numbers (and number words) as numbers."""
    matches = list(re.finditer(pattern, prose(nn)))
    assert len(matches) == 1, (
        f"notebook {nn}: {pattern!r} matches the prose {len(matches)} times, not once"
    )
    values = [_number(g) for g in matches[0].groups()]
    return values[0] if len(values) == 1 else values


def _number(text: str):
    if re.fullmatch(r"\d{1,3}(,\d{3})+", text):
        text = text.replace(",", "")  # 1,200
    if text.lower() in WORDS:
        return WORDS[text.lower()]
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


@cache
def _saved(nn: str):
    (path,) = (ROOT / "notebooks").glob(f"{nn}_*.ipynb")
    return nbformat.read(path, as_version=4).cells


def output(nn: str, code: str) -> str:
    """The text output of the one saved code cell of notebook ``nn`` whose source contains ``code``."""
    found = [c for c in _saved(nn) if c.cell_type == "code" and code in c.source]
    assert len(found) == 1, f"notebook {nn}: {len(found)} code cells contain {code!r}"
    parts = [o.get("text") or o.get("data", {}).get("text/plain", "") for o in found[0].outputs]
    return "\n".join(parts)


def literal(nn: str, code: str):
    """A saved output that is a Python literal (a dict, tuple or list), as that value."""
    return ast.literal_eval(output(nn, code))


def frame(nn: str, code: str) -> pd.DataFrame:
    """A saved DataFrame output read back from its plain-text repr (wrapped column blocks joined).

    pandas right-aligns every column under its name, so a column ends where its name ends and
    where its values end.
    """
    return read_frame(output(nn, code))


def read_frame(text: str) -> pd.DataFrame:
    """A DataFrame back from its plain-text repr (see :func:`frame`); an empty string reads as ""."""
    blocks = []
    for line in text.splitlines():
        line = line.rstrip().removesuffix("\\").rstrip()
        if not line.strip() or (not line.startswith(" ") and len(line.split()) == 1):
            continue  # blank, or the index's name on a line of its own
        if line.startswith(" "):
            blocks.append([line])
        elif blocks:
            blocks[-1].append(line)
    parts = []
    for header, *rows in blocks:

        def at(t, i):
            return t[i] if i < len(t) else " "

        ends = [  # a name ends, no row runs on past it, and some row's value ends there too
            i
            for i in range(len(header))
            if at(header, i) != " " and at(header, i + 1) == " "
            and all(at(r, i + 1) == " " for r in rows)
            and any(at(r, i) != " " for r in rows)
        ]  # fmt: skip
        starts = (
            [max(len(r.split()[0]) for r in rows)]
            + [  # the row labels come first
                e + 1 for e in ends[:-1]
            ]
        )
        names = [header[a : b + 1].strip() for a, b in zip(starts, ends, strict=True)]
        cells = {
            r.split()[0]: [r[a : b + 1].strip() for a, b in zip(starts, ends, strict=True)]
            for r in rows
        }
        parts.append(pd.DataFrame.from_dict(cells, orient="index", columns=names))
    table = pd.concat(parts, axis=1)
    for column in table:
        if set(table[column]) <= {"True", "False"}:
            table[column] = table[column] == "True"
            continue
        try:
            table[column] = pd.to_numeric(table[column])
        except (ValueError, TypeError):
            pass
    return table.reset_index(drop=True)


def test_read_frame_gives_back_what_pandas_printed():
    original = pd.DataFrame(
        {
            "time": [3600.0, 5729.9, 12.5],
            "what": ["record", "commit marker", ""],
            "storm_handled": ["496 of 600", "275 of 600", "1 of 6"],
            "handled out of order": [27, 0, 1000],
            "ok": [True, False, True],
        }
    )
    text = original.to_string(line_width=50)  # wrapped into blocks of columns, as a notebook shows
    assert "\\" in text
    back = read_frame(text)
    assert list(back.columns) == list(original.columns)
    assert back.drop(columns="what").equals(original.drop(columns="what"))
    assert list(back.what[:2]) == ["record", "commit marker"]


def test_said_reads_numbers_and_refuses_a_pattern_that_is_not_there():
    assert _number("1,200") == 1200 and _number("Four") == 4 and _number("0.456") == 0.456
    with pytest.raises(AssertionError, match="0 times"):
        said("04", r"no such sentence (\d+)")


# -- the notebooks -----------------------------------------------------------------------------


def test_03_partitions_and_ordering():
    steps = literal("03", 'read_back(None), "key user-007"')["no key"]
    quoted = said("03", r"the user's steps came out as ((?:\d, )+\d)\.")
    assert quoted == ", ".join(v.removeprefix("step ") for _, v in steps)
    cards = literal("03", '"CRC32": [crc32_partition')
    assert said("03", r"All (\w+) cards on partition (\d) under CRC32") == [len(cards["CRC32"]), 0]
    assert set(cards["CRC32"]) == {0}

    from eda_sim.course.nb03.world import window_sweep

    sweep = window_sweep(windows=(None, 0.5, 1.0, 2.0, 4.0)).set_index("window")
    assert (
        said("03", r"With no buffer, (\d+) taps are handled after a later tap")
        == (sweep.loc["(no buffer)", "handled out of order"])
    )
    window, late = said(
        "03",
        r"A window of (\d+(?:\.\d+)?) s puts the rest in order but is too short for (\d+) taps",
    )
    assert late == sweep.loc[window, "late"] and sweep.loc[window, "handled out of order"] == 0
    first = said("03", r"from (\d+) s on, none is late")
    assert (
        sweep.loc[[w for w in sweep.index if w != "(no buffer)" and w >= first], "late"] == 0
    ).all()
    assert (
        sweep.loc[[w for w in sweep.index if w != "(no buffer)" and w < first], "late"] > 0
    ).all()


def test_04_consumer_groups():
    from eda_sim.course.nb04.world import consumers_sweep

    sweep = consumers_sweep(range(1, 9)).set_index("consumers")
    partitions = said("04", r"to `orders` \((\d) partitions, keyed by customer\)")
    assert said("04", r"fails at the (\w+) worker") == "fifth" and partitions + 1 == 5
    assert sweep.throughput[5] == sweep.throughput[4] > sweep.throughput[3]
    first, last = said("04", r"Workers (\d) to (\d) join, get nothing and sit idle")
    assert [sweep.idle[n] for n in range(first, last + 1)] == list(range(1, last - partitions + 1))
    assert said("04", r"sit idle, while (\d+) orders wait") == sweep.lag[5] == sweep.lag[8]

    # the boards: which partitions each colour (member) holds
    two = frame("04", "sim = group_world(consumers=2)")
    assert said("04", r"Each colour is one worker and owns (\w+) partitions") == 2
    assert [len(p.split(", ")) for p in two.partitions] == [2, 2]
    workers, parts, colours = said(
        "04", r"(\w+) workers on (\w+) partitions, after 5 virtual seconds: still (\w+) colours"
    )
    six = frame("04", "six = group_world(consumers=6)")
    assert len(six) == workers and (six.partitions != "(none)").sum() == colours == parts

    from eda_sim.course.nb04.world import JOIN_AT, journal_at, rebalance_story

    def moves(strategy):
        j = journal_at(rebalance_story(strategy), JOIN_AT)
        lists = {
            kind: {(a, p) for a, d in zip(rows.actor, rows.detail) for p in re.findall(r"p\d", d)}
            for kind, rows in j.groupby("kind")
        }
        return lists["revoked"], lists["assigned"]

    revoked, assigned = moves("range")
    owner_before = {p: a for a, p in revoked}
    changed = sorted(p for a, p in assigned if owner_before.get(p) != a)
    count, *named = said("04", r"although only (\w+) change owner \((p\d), (p\d), (p\d)\)")
    assert said("04", r"Eager: all (\w+) partitions revoked") == len(revoked)
    assert count == len(changed) and named == changed
    revoked, _ = moves("cooperative-sticky")
    count, *named = said("04", r"sticky assignor moves (\w+) \((p\d), (p\d)\)")
    assert count == len(revoked) and named == sorted(p for _, p in revoked)

    storm = frame("04", "storm_sweep()")
    fit = said("04", r"Batches of (\d+) s or less: no eviction")
    over = said("04", r"Batches of (\d+(?:\.\d+)?) s or more: every worker is evicted")
    fits, storms = storm[storm.batch_s <= fit], storm[storm.batch_s >= over]
    assert len(fits) and len(storms) and len(fits) + len(storms) == len(storm)
    assert (fits.evictions == 0).all()
    assert (storms.evictions > 0).all() and (storms.committed_per_s == 0).all()
    rate = said("04", r"close to the (\d+) orders per second it is given")
    assert (abs(fits.committed_per_s - rate) <= 0.05 * rate).all()

    epochs = output("04", 'epochs(kip848, "workers")')
    gave_up = said("04", r"gave them up in its next poll \((\d+(?:\.\d+)?) s")
    assert re.search(rf"^\s*{gave_up:.2f} s\s+worker-1-1 .*owns \[p0,p1\]", epochs, re.M)


def test_04_deploys_and_storms_six_ways():
    deploy = frame("04", "deploy = deploy_sweep()")
    workers, back = said(
        "04", r"A rolling deploy of (\w+) workers \(each stops, and is back (\d+) s later\)"
    )
    static, dynamic = deploy[deploy.static], deploy[~deploy.static].set_index("protocol")
    assert "**Static** members cause no rebalance and no duplicate, under every protocol" in prose(
        "04"
    )
    assert (static.rebalances == 0).all() and (static.duplicates == 0).all()
    held, seconds = said("04", r"here (\w+) partitions for about (\w+) seconds per restart")
    assert (abs(static.paused_s - workers * held * seconds) <= 1).all()
    assert said("04", r"\*\*Eager\*\* revokes all (\w+) partitions (\w+) per restart") == [
        6,
        "twice",
    ]
    assert dynamic.revoked["eager"] == 6 * 2 * workers
    assert dynamic.revoked["cooperative"] < dynamic.revoked["eager"] > dynamic.revoked["consumer"]
    assert "In the classic rows some records are processed twice" in prose("04")
    assert dynamic.duplicates["eager"] > 0 and dynamic.duplicates["cooperative"] > 0
    assert dynamic.duplicates["consumer"] == 0
    assert "KIP-848's dynamic row pauses longest" in prose("04")
    assert dynamic.paused_s["consumer"] == deploy.paused_s.max()

    late = frame("04", 'deploy_report("eager", True, 12)')
    assert said("04", r"Back after (\d+) s, each static worker is too late") == 12 > back
    assert "more paused time than with no static membership at all" in prose("04")
    assert late.paused_s[0] > dynamic.paused_s["eager"] and late.rebalances[0] > 0

    storm = frame("04", "storm = storm_protocols()")
    assert (
        said("04", r"(\w+) of the six commits anything") == 0 and (storm.committed_per_s == 0).all()
    )
    quiet = storm[(storm.protocol == "consumer") & storm.static]
    assert "static member that misses its poll leaves with epoch -2" in prose("04")
    assert (
        quiet.rebalances.item() == 0 and quiet.duplicates.item() > 0
    )  # "no rebalance at all, and still no progress"
    classic = storm[storm.protocol != "consumer"].set_index(["protocol", "static"])
    assert "static membership changes nothing" in prose("04")
    for protocol in ("eager", "cooperative"):
        assert classic.loc[(protocol, True)].equals(classic.loc[(protocol, False)])


def test_05_delivery():
    from eda_sim.course.nb05.world import crash_sweep

    sweep = crash_sweep()
    by = {name: rows for name, rows in sweep.groupby("strategy")}
    assert (
        "Commit-before never duplicates but loses; commit-after never loses but duplicates"
        in prose("05")
    )
    assert (by["before"]["duplicated"] == 0).all() and by["before"].lost.any()
    assert (by["after"].lost == 0).all() and by["after"]["duplicated"].any()
    assert "auto-commit does **both**" in prose("05")
    assert by["auto"].lost.any() and by["auto"]["duplicated"].any()
    assert "Stored offsets (`store`, " in prose("05") and (by["store"].lost == 0).all()
    assert said("05", r"The sweep tries (\d+) crash points") == len(by["auto"])
    assert said("05", r"Look at `final_lag`: \*\*(\d) in every row") == 0
    assert set(frame("05", 'crash_once("before", 0.25)').final_lag) == {0}
    assert said("05", r"One consumer, (\w+) records in batches of (\w+)") == [12, 4]


def test_06_durability():
    failover = literal("06", "after.summary(), after.lost[:5]")[0]
    assert (
        said("06", r"The API sends (\d+) payments") == failover["sent"] == failover["acknowledged"]
    )
    truncated = frame("06", 'frame(kind="truncated")')
    assert said("06", r"When broker 0 comes back at (\d+) s it cuts its log") == truncated.time[0]
    assert truncated["count"][0] == failover["lost"]

    table = frame("06", "table = sweep()")
    lost = table.set_index(["acks", "min.insync.replicas", "unclean"]).lost
    assert (
        "`acks=1` loses payments even with a clean election, whatever `min.insync.replicas` says"
        in prose("06")
    )
    assert (lost["1"] > 0).all() and lost["1", 1, False] == lost["1", 2, False]
    assert "Turn unclean election on and the same schedule loses hundreds" in prose("06")
    assert lost["all", 1, False] == 0 and 100 <= lost["all", 1, True] < 1000
    assert "never loses an acknowledged payment, clean or unclean, but refuses the most" in prose(
        "06"
    )
    refused = table.set_index(["acks", "min.insync.replicas", "unclean"]).refused
    assert (lost["all", 2] == 0).all() and refused["all", 2, False] == refused.max()
    assert "Unclean election turns refusals into losses: fewer refused, more lost." in prose("06")
    for (acks, mir, unclean), n in lost.items():
        if unclean:
            assert n > lost[acks, mir, False] or n == 0
            assert refused[acks, mir, True] <= refused[acks, mir, False]

    windows = frame("06", "short, windows = too_few_in_sync()")
    start, end = said("06", r"From (\d+) s to (\d+) s the controller has not yet noticed the crash")
    quiet = windows[windows.window.isin([f"{start}-{start + 5} s", f"{start + 5}-{start + 10} s"])]
    assert (
        quiet.refused.sum() == 0
        and (windows.refused[windows.window == f"{end + 1}-{end + 6} s"] > 0).all()
    )


def test_07_transactions():
    duplicated, lost = literal("07", "plain.duplicated, plain.lost")
    assert said("07", r"(\w+) inputs were written twice") == len(duplicated) and lost == []
    loops = frame("07", "compare_loops()")
    assert said("07", r"and (\w+) an instance was \*\*fenced\*\*") == "twice"
    assert loops.fenced.sum() == 2 and loops[loops.loop == "transactions"]["duplicated"].sum() == 0
    markers = frame("07", 'partition_table(sim, "out")')
    first, second = said("07", r"The \*\*markers\*\* at offsets (\d) and (\d)")
    assert list(markers.offset[markers.what.str.endswith("marker")]) == [first, second]
    tool, own = literal("07", 'group_lag(sim, "lag-demo", ["out"])')
    assert (
        said("07", r"(\w+) for the command-line tool, nothing for the consumer's own count") == tool
    )
    assert own == 0
    assert said("07", r"shows a lag of (\d)") == 1
    totals, refused = literal("07", "store.totals(), store.refused")
    assert f"`store.totals()` is `{totals!r}`" in prose("07")


def test_08_retries():
    from eda_sim.course.nb08.world import scoring_world

    sim, _ = scoring_world(retry=None)
    flaky = said("08", r"Transactions (\d+), (\d+) and (\d+) hit a flaky")
    poison = said("08", r"Transactions (\d+) and (\d+) carry a currency")
    from eda_sim.services.service import reconcile

    dead = reconcile(sim, _)
    assert said("08", r"Without retries the (\w+) flaky transactions end up dead-lettered") == len(
        flaky
    )
    assert dead.dead_lettered[0] == len(flaky) + len(poison)
    parked = frame("08", 'dead_letters(sim, "transactions.DLT")')
    assert list(parked.original_offset) == poison
    records = sim.records("transactions")
    cards = said(
        "08", r"All (\w+) cards hash \(CRC32, confluent-kafka's default\) to partition (\d)"
    )
    assert records.key.nunique() == cards[0] and set(records.partition) == {cards[1]}


def test_10_storms():
    summary = literal("10", "storm_summary(storm)")
    assert said("10", r"The lag peaks at (\d+) requests") == summary["peak_lag"]
    assert summary["peak_p95_s"] > said("10", r"the slowest 5 % of requests wait over (\d+) s")
    assert summary["drained_at"] is None
    alerts = frame("10", 'alerts(storm.sim)[["time"')
    storm_start = said("10", r"From (\d+) s to \d+ s a \*\*storm\*\*")
    first, second = said("10", r"The alerts fire (\w+) and (\w+) seconds into the storm")
    assert list(alerts.time - storm_start) == [first, second]

    from eda_sim.course.nb10.world import storm_summary, storm_world

    scaled = storm_summary(storm_world(storm_rate=40, autoscale=True))
    assert (
        said("10", r"Scaling out drains the storm by (\d+) s instead of never")
        == scaled["drained_at"]
    )
    decisions = frame("10", "scaled.scaler.decisions")
    assert (decisions.action == "scale_in").any()  # "and then gives the instances back"
    limits = frame("10", "rate_limit_table(runs={None: storm})").set_index("limit_per_s")
    assert said("10", r"nearly keeps up \(peak lag (\d+)\)") == limits.peak_lag["4"]
    p95, before = said("10", r"\(p95 about (\d+) s instead of (\d+) s\)")
    assert round(limits.app_p95_s["4"]) == p95 and round(limits.app_p95_s["none"]) == before
    waiting, of = said(
        "10", r"the storm takes longer: (\d+) of its (\d+) requests are still waiting"
    )
    assert limits.storm_waiting["4"] == waiting and limits.storm_handled["4"].endswith(f"of {of}")
    held = frame("10", "backpressure_table(runs={20: storm})").set_index("max_in_flight")
    assert said("10", r"\((\d+) records held at once\)") == held.held_in_memory[1000]
    waits = literal("10", "{ms: longest_wait(ms) for ms in (1000, 10)}")
    assert said("10", r"the records come in bursts (\d+) s apart") == waits[1000]
    assert said("10", r"longer than the producer's own pace \(([\d.]+) s\)") == waits[10]
    slow = frame("10", "slow_storm_table()").set_index("max_in_flight")
    assert (
        said("10", r"With 20 records per poll a batch now takes (\d+) s")
        == slow.batch_in_storm_s[20]
    )

    hot = literal("10", "hot_partition(hot)")
    assert said("10", r"a dashboard with one lag number reads (\d+)") == hot["group_lag"]
    assert said("10", r"almost all of it sits on `(views-\d)`") == hot["hot_partition"]
    salted = frame("10", "hot_key_table(((6, 0), (8, 0), (6, 4))")
    assert said("10", r"The hot partition `views-4` holds (\d+) of the lag") == hot["hot_lag"]
    assert (
        said("10", r"(\d+) rankers leave `views-4` exactly where 6 left it") == salted.instances[1]
    )
    assert salted.hot_lag[1] == salted.hot_lag[0] and salted.hot_partition[1] == "views-4"
    salts, before, after = said(
        "10", r"(\w+) salts cut the hot partition's lag from (\d+) to (\d+)"
    )
    assert [salted.salts[2], salted.hot_lag[0], salted.hot_lag[2]] == [salts, before, after]
    assert (
        said("10", r"and (\d+) of `user_0`'s clicks are now processed after")
        == salted.user_0_out_of_order[2]
    )


def test_11_state():
    from eda_sim.course.nb11.world import FEATURES, feature_store_world, log_frame

    features = feature_store_world()
    log = log_frame(features, FEATURES)
    written = features.topic(FEATURES).partitions[0].log_end_offset
    updates = said("11", r"five users' features are updated (\d+) times in two minutes")
    tombstones = 1  # the privacy request
    assert updates + tombstones == written
    assert said("11", r"(\d+) records went in and only (\d+) are left") == [written, len(log)]

    from eda_sim.course.nb11.world import transactions

    flagged = literal("11", "patient_sim, patient = velocity_world")["flagged cards"]
    count, seconds, start = said(
        "11", r"`card-13` made (\w+) small charges in (\d+) s from (\d+) s on"
    )
    burst = [c["time"] for c in transactions() if c["card"] == "card-13" and c["time"] >= start][
        :count
    ]
    assert burst[-1] - burst[0] <= seconds and flagged["card-13"][2] == count
    assert said("11", r"Its best window held all (\w+), over the threshold of (\d+)") == [count, 8]
    assert list(flagged) == ["card-13"]  # the threshold flags no ordinary card
    shifted = frame("11", "burst from {300 + shift} s")
    assert shifted["burst from 330 s"][0] < said("11", r"reaches (\d+) in neither window")
    stale = literal("11", "len(join_world(poll_interval=p)[1].stale_joins())")
    assert list(stale.values()) == sorted(stale.values())  # a fresher table makes fewer mistakes
    assert min(stale.values()) > 0  # "shrinks the window for the mistake but never closes it"
    assert "shrinks the window for the mistake but never closes it" in prose("11")


def test_12_trace_depth():
    from eda_sim.course.nb00.world import ai_flow
    from eda_sim.services.tracing import correlation_ids, trace

    sim = ai_flow(seed=1, until=20, drift_at=10)
    requests = [
        c for c in correlation_ids(sim) if trace(sim, c).iloc[0].type == "InferenceRequested"
    ]
    shown = max(requests, key=lambda c: trace(sim, c).depth.max())
    types = trace(sim, shown).set_index("depth").type
    assert (
        said("12", r"the request \(depth (\d)\) caused a recommendation") == 0
        and types[0] == "InferenceRequested"
    )
    assert (
        said("12", r"caused a recommendation \(depth (\d)\)") == 1
        and types[1] == "RecommendationReady"
    )
    assert (
        said("12", r"into a drift alert \(depth (\d)\)") == 2 and types[2] == "ModelDriftDetected"
    )
    saved = output("12", 'trace(sim, cid)[["event_id"')  # the saved notebook shows that request
    assert shown in saved and "ModelDriftDetected" in saved


def test_13_hit_rate_over_time():
    from eda_sim.course.nb13.world import hit_rate_over_time, recommendation_world

    curve = hit_rate_over_time(recommendation_world(seed=10), bucket=60.0)
    model = curve["item-to-item"].tolist()
    assert said("13", r"starts low \((\d+(?:\.\d+)?) in the first minute") == model[0]
    first = said("13", r"from the (\w+) minute on it stays above 0\.5")
    ordinal = ["first", "second", "third", "fourth", "fifth", "sixth"].index(first)
    assert min(model[ordinal:]) > 0.5 and model[ordinal - 1] <= 0.5
    assert said("13", r"\(the fourth minute dips to (\d+(?:\.\d+)?)\)") == model[3]
    assert curve["popularity"].max() < said("13", r"Popularity stays under (\d+(?:\.\d+)?)")


def test_02_the_broker_keeps_what_was_read():
    counts = literal("02", '"records still in the log": len(sim.records("page-views"))')
    assert said("02", r"all (\w+) records are still there") == counts["records still in the log"]
    assert (
        counts["recommender read"] == counts["analytics read"] == counts["records still in the log"]
    )
    report = frame("02", 'catch_up_report(away, "analytics")')
    assert "Nothing was lost and nothing was processed twice" in prose("02")
    assert (report["never"] == 0).all() and (report["more than once"] == 0).all()
    assert (report["processed once"] == report["produced"]).all()


def test_02_delete_records_moves_the_log_start_where_earliest_begins():
    [low] = literal("02", "admin.delete_records(")
    assert said("02", r"the partition's log start, now (\d+)") == low
    read = literal("02", "audit.consume(")
    assert read[0][0] == low and [offset for offset, _ in read] == list(range(low, 6))
    assert said("02", r"a topic holds (\w+) orders and the first (\w+) go") == [6, low]


def test_15_drift_and_backtest():
    from eda_sim.course.nb15.world import monitoring_world

    shift = said("15", r"At ([\d,]+) s the stream changes: every amount doubles")
    psi = monitoring_world(seed=12, until=6000.0).services["model-monitor"].monitor.frame()
    calm, shifted = psi[psi.time < shift], psi[psi.time >= shift]
    wanders, alarm = said(
        "15", r"wanders up to about (\d+(?:\.\d+)?) by chance, so the alarm is at (\d+(?:\.\d+)?)"
    )
    assert abs(calm.psi.max() - wanders) <= 0.01 and calm.psi.max() < alarm  # "about"
    assert (
        shifted.psi.iloc[0] > alarm
    )  # "the first window that contains the doubled amounts crosses it"
    events = frame("15", 'deploy(sim, "v2")')
    drift = events.time[events.type == "ModelDriftDetected"]
    assert (
        len(drift) == 1 and 60 <= drift.iloc[0] - shift <= 600
    )  # "a few minutes ... after the shift"
    table = frame("15", "backtest(sim)").set_index("version")
    v2, v1 = said("15", r"uses all (\w+) rolling features \(v1 used (\w+)\)")
    assert [table.features["v2"], table.features["v1"]] == [v2, v1]
    assert "v2 catches more of the fraud, and a larger share of its alerts are fraud" in prose("15")
    assert table.recall["v2"] > table.recall["v1"] and table.precision["v2"] > table.precision["v1"]


def test_09_changes():
    from eda_sim.course.nb09.world import CHANGES

    assert said("09", r"(\w+) changes a team makes to version 1") == len(CHANGES)


def test_16_the_story_on_a_real_broker():
    story = output("16", "run = run_story(backend)")
    produced, good, poison = (
        int(n)
        for n in re.search(r"views produced: (\d+) \((\d+) good, (\d+) poison\)", story).groups()
    )
    assert said("16", r"The frontend sends (\d+) views of \w+ shoppers") == good
    assert "and one poison view" in prose("16") and poison == 1 and produced == good + poison
    details = output(
        "16", "print(run.details())"
    )  # the saved run's details (its output is not replayed)
    first, second, alone = said(
        "16", r"`recommender-1` \(partitions (\d) and (\d)\) and `recommender-2` \(partition (\d)\)"
    )
    assert f"recommender-1: read partition(s) {first}, {second} at first" in details
    assert f"recommender-2: read partition(s) {alone} at first" in details


def test_99_exactly_once_stops_at_the_database():
    table = frame("99", 'show("exactly-once covers my database write")').set_index("strategy")
    alone, inbox = table.loc["Kafka transactions"], table.loc["transactions + inbox"]
    assert (
        "with Kafka's transactions it never posts an event twice, yet it charges the database twice"
        in prose("99")
    )
    assert alone.events_duplicated == 0 and alone.charges_duplicated > 0
    assert "with an inbox next to the charge, it does neither" in prose("99")
    assert inbox.events_duplicated == 0 and inbox.charges_duplicated == 0
