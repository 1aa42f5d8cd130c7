"""Metrics over virtual time, and alerts on them: what a dashboard of the system would show.

:func:`metrics` turns the journal and the spans into one row per time bucket
(``bucket`` virtual seconds, indexed by the bucket's start):

=========================  ===================================================
``throughput_<topic>``     records appended per second ('appended' rows)
``handled_<service>``      events per second a service handled successfully
``latency_p50/p95/p99``    end to end: a span's finish minus its record's
                           produce time, over the events handled in the
                           bucket (NaN when none)
``lag_<group>``            at the bucket's end, summed over the partitions of
                           the topics the group subscribes: log end minus
                           committed offset, or log end minus log start where
                           the group has committed nothing
``errors_per_s``           retries scheduled, dead letters and failures
``dead_letters_per_s``     dead letters
=========================  ===================================================

Buckets are half open, ``[start, start + bucket)``; the last one ends at
``until`` (the clock, by default) and also holds what happened at exactly
``until``, so the frame accounts for everything up to then. Rates divide by
the time a bucket covers (the last may be shorter).

An :class:`AlertMonitor` is a process on the clock, like a monitoring service:
every ``interval`` it evaluates :class:`Threshold` rules on the latest complete
bucket and publishes ``AlertRaised`` when a metric goes above its threshold and
``AlertResolved`` when it falls back to or below it, as events on a topic that
services can consume.

Example::

    sim = Simulation(seed=1)
    sim.create_topic("transactions", partitions=2)
    Source(sim, "api", "transactions",
           [{"time": i * 0.01, "type": "TransactionSubmitted"} for i in range(3000)])
    Service(sim, "scorer", consumes="transactions",
            handlers={"TransactionSubmitted": lambda e, ctx: None}, processing_time=0.02)
    monitor = AlertMonitor(sim, [Threshold("lag_scorer", above=50)])
    sim.run(until=60)
    metrics(sim, bucket=1.0)[["throughput_transactions", "lag_scorer", "latency_p95"]]
    alerts(sim)                           # when the lag alert was raised and resolved
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from eda_sim.core.checks import number, seconds
from eda_sim.core.measures import lag, latency, throughput
from eda_sim.services.service import declare_event_types, new_event, publish

_EPS = 1e-9
_RATE_KINDS = ("retry_scheduled", "dead_lettered", "failed")
_NEEDED = frozenset(("appended", "expired", "committed", "joined") + _RATE_KINDS)
_LATENCY = (("latency_p50", 0.50), ("latency_p95", 0.95), ("latency_p99", 0.99))
ALERT_TYPES = ("AlertRaised", "AlertResolved")


# -- what exists ---------------------------------------------------------------------------------


def _check_journal(sim) -> None:
    if not sim.journal.enabled:
        raise ValueError(
            "metrics are drawn from the journal, which this simulation does not keep; "
            "create it with Simulation(..., journal=True)"
        )


def _live_subscriptions(sim, topics: dict) -> None:
    """Add what services, members and group members subscribe now (a group exists before its first join)."""
    for svc in sim.services.values():
        topics.setdefault(svc.name, set()).update(svc.topics)
    for member in sim.members.values():
        topics.setdefault(member.group_id, set()).update(member.consumer.subscribed_topics)
    for gid, group in sim.groups.items():
        subs = topics.setdefault(gid, set())
        for consumer in group.members.values():
            subs.update(consumer.subscribed_topics)


def _groups(rows, sim) -> dict:
    """Group -> sorted topics it subscribes, from 'joined' and 'committed' rows and the live members."""
    topics: dict = {}
    for r in rows:
        if r.kind == "joined" and r.group:
            topics.setdefault(r.group, set()).update(r.data)
        elif r.kind == "committed" and r.group:
            topics.setdefault(r.group, set()).add(r.topic)
    _live_subscriptions(sim, topics)
    known = sim.broker.topics
    return {g: sorted(t for t in ts if t in known) for g, ts in sorted(topics.items())}


def metric_names(sim) -> list:
    """The metric names :func:`metrics` computes for ``sim`` now (its topics, services and groups)."""
    _check_journal(sim)
    groups = _groups([r for r in sim.journal if r.kind in ("joined", "committed")], sim)
    return (
        [f"throughput_{t}" for t in sorted(sim.broker.topics)]
        + [f"handled_{s}" for s in sorted(sim.services)]
        + [name for name, _ in _LATENCY]
        + [f"lag_{g}" for g in groups]
        + ["errors_per_s", "dead_letters_per_s"]
    )


# -- the frame -------------------------------------------------------------------------------------


def _grid(sim, bucket, until):
    """Validate and return (until, number of buckets, starts, widths)."""
    import numpy as np

    seconds(bucket, "bucket", positive=True)
    if until is None:
        until = sim.now
    number(until, "until", low=0, what="a virtual time in seconds")
    if until > sim.now:
        raise ValueError(f"until={until} is in the future: the clock is at {sim.now:g} s")
    n = max(0, math.ceil(until / bucket - _EPS))
    starts = np.round(
        np.arange(n) * float(bucket), 9
    )  # so that m.loc[2.1] finds the bucket at 3 * 0.7
    widths = np.minimum(starts + bucket, until) - starts
    return float(until), n, starts, widths


def _journal_frame(sim, until):
    import pandas as pd

    from eda_sim.core.journal import Row

    rows = [r for r in sim.journal if r.kind in _NEEDED and r.time <= until]
    return rows, pd.DataFrame.from_records(rows, columns=Row._fields)


def _bucket_of(times, bucket, n):
    import numpy as np

    return np.minimum(np.floor(np.asarray(times, dtype=float) / bucket + _EPS), n - 1).astype(
        np.int64
    )


def _state(df, b, n):
    """Per-partition log end and log start, and per group and partition the committed offset, at each bucket end.

    Returns (end, start, committed): DataFrames indexed 0..n-1, columns (topic, partition) and
    (group, topic, partition); end/start filled, committed NaN before the first commit.
    """
    import pandas as pd

    frames = []
    for kind, _value in (("appended", "end"), ("expired", "start")):
        sel = (df["kind"] == kind).to_numpy()
        rows = df[sel]
        mark = (
            (rows["offset"] + rows["count"])
            .groupby([rows["topic"], rows["partition"], b[sel]])
            .max()
        )
        wide = mark.unstack([0, 1]) if len(mark) else pd.DataFrame(index=pd.RangeIndex(0))
        frames.append(wide.reindex(range(n)).ffill().fillna(0))
    sel = (df["kind"] == "committed").to_numpy()
    rows = df[sel]
    last = rows["offset"].groupby([rows["group"], rows["topic"], rows["partition"], b[sel]]).last()
    committed = last.unstack([0, 1, 2]) if len(last) else pd.DataFrame(index=pd.RangeIndex(0))
    frames.append(committed.reindex(range(n)).ffill())
    return frames


def _partitions(sim, topics) -> list:
    return [(t, p) for t in topics for p in range(sim.broker.topics[t].partition_count)]


def _lag_matrix(sim, group_topics, end, start, committed, group, n):
    """An n x P array of lags for one group, and its (topic, partition) columns."""
    import numpy as np

    tps = _partitions(sim, group_topics)
    out = np.zeros((n, len(tps)))
    for j, tp in enumerate(tps):
        e = end[tp].to_numpy() if tp in end.columns else np.zeros(n)
        s = start[tp].to_numpy() if tp in start.columns else np.zeros(n)
        key = (group, *tp)
        c = committed[key].to_numpy() if key in committed.columns else np.full(n, np.nan)
        out[:, j] = [lag(si, ei, None if ci != ci else ci) for si, ei, ci in zip(s, e, c)]
    return out, tps


def metrics(sim, bucket: float = 1.0, *, until: float | None = None):
    """One row per ``bucket`` seconds from 0 to ``until`` (the clock): throughput, handling, latency, lag, errors.

    See the module docstring for the columns. Computed from the journal and
    ``sim.spans`` with pandas, so it stays fast for large runs.
    """
    import numpy as np
    import pandas as pd

    _check_journal(sim)
    until, n, starts, widths = _grid(sim, bucket, until)
    rows, df = _journal_frame(sim, until)
    groups = _groups(rows, sim)
    index = pd.Index(starts, name="time")
    cols: dict = {}
    if n == 0:
        names = metric_names(sim)
        return pd.DataFrame({c: pd.Series(dtype=float) for c in names}, index=index)
    b = _bucket_of(df["time"], bucket, n)

    def per_bucket(counts):
        return throughput(counts.reindex(range(n), fill_value=0).to_numpy(dtype=float), widths)

    app = (df["kind"] == "appended").to_numpy()
    thr = df["count"][app].groupby([b[app], df["topic"][app]]).sum()
    for t in sorted(sim.broker.topics):
        part = (
            thr.xs(t, level=1)
            if len(thr) and t in thr.index.get_level_values(1)
            else pd.Series(dtype=float)
        )
        cols[f"throughput_{t}"] = per_bucket(part)

    spans = [s for s in sim.spans if s.outcome == "handled" and s.finished <= until]
    finished = np.fromiter((s.finished for s in spans), float, len(spans))
    produced = np.fromiter((s.produced for s in spans), float, len(spans))
    service = pd.Series([s.service for s in spans], dtype=object)
    sb = _bucket_of(finished, bucket, n) if len(spans) else np.zeros(0, np.int64)
    handled = (
        pd.Series(1, index=pd.MultiIndex.from_arrays([sb, service])).groupby(level=[0, 1]).sum()
        if len(spans)
        else pd.Series(dtype=float)
    )
    for s in sorted(sim.services):
        part = (
            handled.xs(s, level=1)
            if len(handled) and s in handled.index.get_level_values(1)
            else pd.Series(dtype=float)
        )
        cols[f"handled_{s}"] = per_bucket(part)

    latency_s = pd.Series(latency(produced, finished))
    qs = latency_s.groupby(sb).quantile([q for _, q in _LATENCY]) if len(spans) else None
    for name, q in _LATENCY:
        if qs is None:
            cols[name] = np.full(n, np.nan)
        else:
            cols[name] = qs.xs(q, level=1).reindex(range(n)).to_numpy(dtype=float)

    end, start, committed = _state(df, b, n)
    for g, topics in groups.items():
        lags, _ = _lag_matrix(sim, topics, end, start, committed, g, n)
        cols[f"lag_{g}"] = lags.sum(axis=1)

    err = df["kind"].isin(_RATE_KINDS).to_numpy()
    cols["errors_per_s"] = per_bucket(df["count"][err].groupby(b[err]).sum())
    dead = (df["kind"] == "dead_lettered").to_numpy()
    cols["dead_letters_per_s"] = per_bucket(df["count"][dead].groupby(b[dead]).sum())
    frame = pd.DataFrame(cols, index=index)
    frame.attrs.update(
        bucket=float(bucket), until=until
    )  # draw_metrics leaves out a partial bucket
    return frame


def lag_by_partition(sim, group: str, bucket: float = 1.0, *, until: float | None = None):
    """A group's lag per partition at each bucket's end: columns ``<topic>-<partition>``, index the bucket start.

    Lag is log end minus committed offset, or log end minus log start where the
    group has committed nothing yet; a hot key shows as one partition's column
    climbing while the others stay flat.
    """
    import pandas as pd

    _check_journal(sim)
    until, n, starts, _ = _grid(sim, bucket, until)
    rows, df = _journal_frame(sim, until)
    groups = _groups(rows, sim)
    if group not in groups:
        raise ValueError(f"unknown group {group!r}; groups are: {', '.join(groups) or 'none yet'}")
    index = pd.Index(starts, name="time")
    tps = _partitions(sim, groups[group])
    names = [f"{t}-{p}" for t, p in tps]
    if n == 0:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in names}, index=index)
    end, start, committed = _state(df, _bucket_of(df["time"], bucket, n), n)
    lags, _ = _lag_matrix(sim, groups[group], end, start, committed, group, n)
    return pd.DataFrame(lags, index=index, columns=names)


# -- alerts ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    """An alert rule: raise when ``metric`` goes above ``above``; resolve when it is back at or below.

    ``name`` identifies the alert (default ``"<metric> > <above>"``).
    """

    metric: str
    above: float
    name: str | None = None

    def __post_init__(self):
        if not isinstance(self.metric, str) or not self.metric:
            raise TypeError(
                f"Threshold.metric must be a metric name such as 'lag_scorer', got {self.metric!r}"
            )
        if (
            isinstance(self.above, bool)
            or not isinstance(self.above, (int, float))
            or self.above != self.above
        ):
            raise TypeError(f"Threshold.above must be a number, got {self.above!r}")
        if self.name is None:
            object.__setattr__(self, "name", f"{self.metric} > {self.above:g}")
        elif not isinstance(self.name, str) or not self.name:
            raise TypeError(f"Threshold.name must be a non-empty string, got {self.name!r}")


class _Window:
    """The metrics of one bucket, from a running fold over the journal and spans (no rescans)."""

    def __init__(self, sim):
        self.sim = sim
        self.row = 0  # next journal row to fold
        self.span = 0  # next span to fold
        self.end: dict = {}  # (topic, partition) -> log end
        self.start: dict = {}  # (topic, partition) -> log start
        self.committed: dict = {}  # (group, topic, partition) -> committed offset
        self.topics: dict = {}  # group -> topics subscribed

    def values(self, lo: float, hi: float) -> dict:
        """Every metric for the bucket ``[lo, hi)``; the fold moves up to ``hi``."""
        sim = self.sim
        width = hi - lo
        appended: dict = {}
        errors = dead = 0
        journal = sim.journal
        while self.row < len(journal):
            r = journal[self.row]
            if r.time >= hi:
                break
            self.row += 1
            kind = r.kind
            if kind not in _NEEDED:
                continue
            if kind == "appended":
                self.end[(r.topic, r.partition)] = r.offset + r.count
                if r.time >= lo:
                    appended[r.topic] = appended.get(r.topic, 0) + r.count
            elif kind == "expired":
                self.start[(r.topic, r.partition)] = r.offset + r.count
            elif kind == "committed":
                self.committed[(r.group, r.topic, r.partition)] = r.offset
                self.topics.setdefault(r.group, set()).add(r.topic)
            elif kind == "joined":
                if r.group:
                    self.topics.setdefault(r.group, set()).update(r.data)
            elif r.time >= lo:  # retry_scheduled, dead_lettered, failed
                errors += r.count
                if kind == "dead_lettered":
                    dead += r.count
        handled: dict = {}
        latencies = []
        spans = sim.spans
        while self.span < len(spans):
            s = spans[self.span]
            if s.finished >= hi:
                break
            self.span += 1
            if s.outcome == "handled" and s.finished >= lo:
                handled[s.service] = handled.get(s.service, 0) + 1
                latencies.append(latency(s.produced, s.finished))
        out = {f"throughput_{t}": throughput(appended.get(t, 0), width) for t in sim.broker.topics}
        out.update({f"handled_{s}": throughput(handled.get(s, 0), width) for s in sim.services})
        out.update(_percentiles(latencies))
        _live_subscriptions(sim, self.topics)
        for g, topics in self.topics.items():
            total = 0
            for tp in _partitions(sim, sorted(t for t in topics if t in sim.broker.topics)):
                total += lag(
                    self.start.get(tp, 0), self.end.get(tp, 0), self.committed.get((g, *tp))
                )
            out[f"lag_{g}"] = float(total)
        out["errors_per_s"] = errors / width
        out["dead_letters_per_s"] = dead / width
        return out


def _percentiles(values: list) -> dict:
    """p50/p95/p99 with linear interpolation (as pandas' quantile), NaN when empty."""
    if not values:
        return {name: math.nan for name, _ in _LATENCY}
    v = sorted(values)
    out = {}
    for name, q in _LATENCY:
        pos = (len(v) - 1) * q
        lo = math.floor(pos)
        hi = min(lo + 1, len(v) - 1)
        out[name] = v[lo] + (v[hi] - v[lo]) * (pos - lo)
    return out


class AlertMonitor:
    """A monitoring process on the clock: evaluates threshold rules and publishes alert events.

    Every ``interval`` seconds it takes the latest complete bucket (``bucket``
    seconds, default ``interval``; the same buckets as :func:`metrics`) and,
    per rule, publishes ``AlertRaised`` when the metric is above the threshold
    and the alert is not raised yet, and ``AlertResolved`` when a raised alert's
    metric is back at or below it (edge-triggered: one event per crossing). A
    metric with no value in the bucket (NaN latency: nothing handled) leaves
    the alert as it is. Events go to ``topic`` (created with one partition if
    missing) from a producer called ``monitor``, keyed by the rule's name,
    with payload ``{rule, metric, value, threshold, window_start}``.
    """

    def __init__(
        self, sim, rules, topic: str = "alerts", interval: float = 1.0, bucket: float | None = None
    ):
        _check_journal(sim)
        rules = [rules] if isinstance(rules, Threshold) else list(rules)
        if not rules or not all(isinstance(r, Threshold) for r in rules):
            raise TypeError("rules must be a Threshold(...) or a non-empty list of them")
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise ValueError(
                f"rule names must be unique, got {names}; pass name= to tell them apart"
            )
        for value, what in (
            (interval, "interval"),
            (bucket if bucket is not None else interval, "bucket"),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 < value < math.inf
            ):
                raise ValueError(
                    f"{what} must be a positive number of virtual seconds, got {value!r}"
                )
        if not isinstance(topic, str) or not topic:
            raise ValueError(f"topic must be a topic name, got {topic!r}")
        if topic not in sim.broker.topics:
            sim.create_topic(topic, partitions=1)
        known = metric_names(sim)
        for r in rules:
            if r.metric not in known:
                raise ValueError(
                    f"unknown metric {r.metric!r} in rule {r.name!r}; metrics available now: "
                    f"{', '.join(known)} (create the topics, services and groups first)"
                )
        self.sim = sim
        self.rules = rules
        self.topic = topic
        self.interval = float(interval)
        self.bucket = float(bucket if bucket is not None else interval)
        self.raised = {r.name: False for r in rules}
        self.producer = sim.producer({"client.id": "monitor"})
        declare_event_types(sim, topic, ALERT_TYPES, self.producer.name)
        self._window = _Window(sim)
        self._evaluated = -1  # index of the last bucket evaluated
        self._stopping = False
        self.process = sim.env.process(self._run())

    def __repr__(self) -> str:
        up = sorted(n for n, on in self.raised.items() if on)
        return f"<AlertMonitor {len(self.rules)} rule(s) -> {self.topic}; raised: {', '.join(up) or 'none'}>"

    def stop(self) -> None:
        """Stop evaluating (at the next tick)."""
        self._stopping = True

    def _run(self):
        env = self.sim.env
        while not self._stopping:
            yield env.timeout(self.interval)
            if self._stopping:
                break
            latest = math.floor(env.now / self.bucket + _EPS) - 1  # the last bucket that has ended
            if latest < 0 or latest == self._evaluated:
                continue
            self._evaluated = latest
            lo = latest * self.bucket
            self.evaluate(self._window.values(lo, lo + self.bucket), lo)

    def evaluate(self, values: dict, window_start: float) -> list:
        """Apply the rules to one bucket's ``values``; publish and return the alert events."""
        sim = self.sim
        out = []
        for rule in self.rules:
            value = values.get(rule.metric, math.nan)
            if value != value:
                continue
            above = value > rule.above
            if above == self.raised[rule.name]:
                continue
            self.raised[rule.name] = above
            payload = {
                "rule": rule.name,
                "metric": rule.metric,
                "value": float(value),
                "threshold": float(rule.above),
                "window_start": float(window_start),
            }
            ev = new_event(sim, ALERT_TYPES[0] if above else ALERT_TYPES[1], payload, key=rule.name)
            publish(self.producer, self.topic, ev)
            out.append(ev)
        if out:
            self.producer.poll(0)
        return out


def alerts(sim, topic: str = "alerts"):
    """The alerts published to ``topic`` as a DataFrame: when, which rule, raised or resolved, the value.

    Empty when no monitor has created the default ``alerts`` topic yet.
    """
    import pandas as pd

    from eda_sim.services.events import Event

    cols = ["time", "type", "rule", "metric", "value", "threshold", "window_start", "event_id"]
    if topic == "alerts" and topic not in sim.broker.topics:
        return pd.DataFrame(columns=cols)
    rows = []
    for log in sim.topic(topic).partitions:
        for r in log.records():
            try:
                ev = Event.from_json(r.value)
            except (ValueError, TypeError):
                continue
            if ev.type not in ALERT_TYPES:
                continue
            p = ev.payload
            rows.append(
                {
                    "time": ev.time,
                    "type": ev.type,
                    "rule": p.get("rule"),
                    "metric": p.get("metric"),
                    "value": p.get("value"),
                    "threshold": p.get("threshold"),
                    "window_start": p.get("window_start"),
                    "event_id": ev.id,
                }
            )
    frame = pd.DataFrame(rows, columns=cols)
    return frame.sort_values(["time", "event_id"], kind="stable").reset_index(drop=True)
