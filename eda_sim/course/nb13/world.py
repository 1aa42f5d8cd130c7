"""Real-time recommendations (notebook 13): a model learned from the views it consumes.

::

    frontend --UserViewedProduct--> product-views --+--> recommender ----------+--RecommendationGenerated--> recommendations
                                         |          +--> popularity-baseline --+
                                         |          +--> random-baseline ------+
                                         +--> product-views.DLT  (malformed views, with the reason)

The ``frontend`` source replays a seeded clickstream (views only, keyed by
user, so one user's views stay in order on one partition), with a few broken
events mixed in: raw bytes that are not JSON, and views without a
``product_id``. The ``recommender`` service learns an
:class:`~eda_sim.ai.models.ItemToItemRecommender` online: for each view it first
learns from it, then publishes a ``RecommendationGenerated`` event (user,
items, model, model version) for downstream services. The model version is
the number of views the model has learned from: an online model changes with
every event, and that count names the exact state that produced a
recommendation. Broken events are dead-lettered with the reason.

Two baselines consume the same topic in consumer groups of their own and
publish to the same ``recommendations`` topic: the most popular products so
far, and random products seen so far. They are for evaluation only, so they
skip broken events (journaled as ``failed``) rather than dead-lettering them a
second time.

The hit rate is measured from the events alone, as a downstream analytics
job would: a user's view counts as a hit for a model when the product is in
the latest recommendation that model generated for the user before the view.
A user's first view is not evaluated (nothing was recommended yet).

Measured (``recommendation_world()``, seed 10, 80 users, 1,046 views of which
966 are evaluated, k=5): item-to-item 0.520, popularity 0.079, random 0.052;
the item-to-item rate per minute climbs from 0.125 in the first minute to
0.53-0.62 from the third on. With ``window=2.0`` it falls to 0.247 (the model
links almost no views); at ``k=10`` popularity reaches 0.163.

Example::

    sim = recommendation_world(seed=10)
    hit_rates(sim)                       # one row per model
    hit_rate_over_time(sim)              # per minute, one column per model
    dead_letters(sim, "product-views.DLT")
"""

from __future__ import annotations

import bisect
import json
import random

from eda_sim.ai.datagen import clickstream
from eda_sim.ai.models import ItemToItemRecommender, PopularityBaseline, RandomBaseline
from eda_sim.core.simulation import Simulation
from eda_sim.services.load import Source
from eda_sim.services.retries import NO_RETRY
from eda_sim.services.service import Service

VIEWS = "product-views"
RECOMMENDATIONS = "recommendations"
DLT = VIEWS + ".DLT"

#: Model name -> the service that runs it, in the order tables show them.
MODELS = {
    "item-to-item": "recommender",
    "popularity": "popularity-baseline",
    "random": "random-baseline",
}

#: How many broken events ``frontend_events`` mixes in (half raw bytes, half without product_id).
MALFORMED = 6


def frontend_events(
    seed: int = 10,
    *,
    users: int = 80,
    products: int = 100,
    duration: float = 600.0,
    malformed: int = MALFORMED,
) -> list:
    """The frontend's output: the clickstream's views, with ``malformed`` broken events spread through.

    Even-numbered broken events are raw bytes (a view cut off mid-JSON);
    odd-numbered ones are views without a ``product_id``. Returns items for a
    :class:`~eda_sim.services.service.Source` (dicts, and bytes for the raw ones).
    """
    if isinstance(malformed, bool) or not isinstance(malformed, int) or malformed < 0:
        raise ValueError(
            f"malformed must be a whole number >= 0 of broken events to mix in, got {malformed!r}"
        )
    views = [
        v
        for v in clickstream(seed, users=users, products=products, duration=duration)
        if v["type"] == "UserViewedProduct"
    ]
    out = list(views)
    for i in reversed(range(malformed)):
        at = len(views) * (i + 1) // (malformed + 1)
        near = views[min(at, len(views) - 1)]
        if i % 2 == 0:
            broken = json.dumps(
                {
                    "type": "UserViewedProduct",
                    "user_id": near["user_id"],
                    "product_id": near["product_id"],
                }
            )
            item = broken[: len(broken) // 2].encode()
        else:
            item = {
                "time": near["time"],
                "type": "UserViewedProduct",
                "user_id": near["user_id"],
                "session_id": near["session_id"],
                "category": near["category"],
            }
        out.insert(at, item)
    return out


def _recommend_handler(model, name: str, k: int):
    learned = [0]

    def on_view(event, ctx):
        p = event.payload
        product, user = p.get("product_id"), p.get("user_id")
        if not product or not user:
            missing = "product_id" if not product else "user_id"
            raise ValueError(f"view without {missing}: nothing to learn from")
        model.observe(user, product, event.time)
        learned[0] += 1
        ctx.emit(
            RECOMMENDATIONS,
            "RecommendationGenerated",
            {
                "user_id": user,
                "items": model.recommend(user, k),
                "model": name,
                "model_version": learned[0],
                "after_product": product,
            },
            key=user,
        )

    return on_view


def recommendation_world(
    seed: int = 10,
    *,
    k: int = 5,
    window: float = 120.0,
    history: int = 5,
    users: int = 80,
    products: int = 100,
    duration: float = 600.0,
    malformed: int = MALFORMED,
    baselines=("popularity", "random"),
    until: float | None = None,
) -> Simulation:
    """Build the flow above and run it to ``until`` (default: the end of the stream + 5 s).

    ``k`` is the length of each recommendation list; ``window`` and
    ``history`` configure the item-to-item model (views of one user further
    apart than ``window`` seconds are not linked; the last ``history`` views
    count). ``baselines`` names the baselines to run beside it (``()`` for
    none). The models are on ``sim.services[name].model``.
    """
    baselines = tuple(baselines)
    unknown = [b for b in baselines if b not in MODELS or b == "item-to-item"]
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; baselines are: popularity, random")
    sim = Simulation(seed=seed, name="recommendations")
    sim.create_topic(VIEWS, partitions=3)
    sim.create_topic(RECOMMENDATIONS, partitions=3)
    Source(
        sim,
        "frontend",
        VIEWS,
        frontend_events(
            seed, users=users, products=products, duration=duration, malformed=malformed
        ),
        key="user_id",
        produces=["UserViewedProduct"],
    )
    models = {"item-to-item": ItemToItemRecommender(k=k, history=history, window=window)}
    if "popularity" in baselines:
        models["popularity"] = PopularityBaseline(k=k, history=history, window=window)
    if "random" in baselines:
        models["random"] = RandomBaseline(random.Random(seed), k=k, history=history, window=window)
    for name, model in models.items():
        svc = Service(
            sim,
            MODELS[name],
            consumes=VIEWS,
            handlers={"UserViewedProduct": _recommend_handler(model, name, k)},
            produces={RECOMMENDATIONS: ["RecommendationGenerated"]},
            retry=NO_RETRY,
            dead_letter=name == "item-to-item",
            processing_time=0.01,
            poll_timeout=1.0,
        )
        svc.model = model
    sim.run(until=duration + 5.0 if until is None else until)
    if until is None:
        key = (seed, k, float(window), history, users, products, float(duration), malformed)
        rates = hit_rates(sim)
        for row in rates.itertuples(index=False):
            _remember(key + (row.model,), (row.evaluated, row.hits, row.hit_rate))
    return sim


# Measured hit rates by world parameters and model: the worlds are deterministic, so a comparison
# that was run once (by recommendation_world or compare_models) is not run again.
_MEASURED: dict = {}


def _remember(key: tuple, value: tuple) -> None:
    if len(_MEASURED) > 256:
        _MEASURED.clear()
    _MEASURED[key] = value


def compare_models(
    seed: int = 10,
    *,
    k: int = 5,
    window: float = 120.0,
    history: int = 5,
    models=tuple(MODELS),
    users: int = 80,
    products: int = 100,
    duration: float = 600.0,
    malformed: int = MALFORMED,
):
    """:func:`hit_rates` of ``models`` in the world :func:`recommendation_world` builds with these settings.

    The same settings give the same numbers, so results are remembered and a
    repeated comparison costs nothing.
    """
    models = tuple(models)
    unknown = [m for m in models if m not in MODELS]
    if unknown or "item-to-item" not in models:
        raise ValueError(
            f"models must include 'item-to-item' and name only {', '.join(MODELS)}; got {models!r}"
        )
    key = (seed, k, float(window), history, users, products, float(duration), malformed)
    if any(key + (m,) not in _MEASURED for m in models):
        recommendation_world(
            seed,
            k=k,
            window=window,
            history=history,
            users=users,
            products=products,
            duration=duration,
            malformed=malformed,
            baselines=[m for m in models if m != "item-to-item"],
        )
    import pandas as pd

    rows = [
        {"model": m, **dict(zip(("evaluated", "hits", "hit_rate"), _MEASURED[key + (m,)]))}
        for m in models
    ]
    return pd.DataFrame(rows, columns=["model", "evaluated", "hits", "hit_rate"])


def _events(sim, topic: str, etype: str) -> list:
    """The ``etype`` events of ``topic`` as (time, payload) pairs, in time order; undecodable records skipped.

    Reads the JSON directly (``sim_seconds`` is the exact event time) rather
    than building :class:`~eda_sim.services.events.Event` objects: the evaluation only
    needs the time and the payload, and it reads thousands of records.
    """
    out = []
    for log in sim.topic(topic).partitions:
        for r in log.records():
            try:
                doc = json.loads(r.value)
            except (TypeError, ValueError):
                continue
            if (
                isinstance(doc, dict)
                and doc.get("type") == etype
                and isinstance(doc.get("payload"), dict)
            ):
                out.append((float(doc["sim_seconds"]), doc["payload"]))
    out.sort(key=lambda e: e[0])
    return out


def recommendation_events(sim, model: str | None = None):
    """The ``RecommendationGenerated`` events as a table in time order (of one model, if given).

    Columns: time, user_id, after_product (the view that caused it), items, model, model_version.
    """
    import pandas as pd

    cols = ["time", "user_id", "after_product", "items", "model", "model_version"]
    rows = [
        {"time": round(t, 3), **{c: p.get(c) for c in cols[1:]}}
        for t, p in _events(sim, RECOMMENDATIONS, "RecommendationGenerated")
        if model in (None, p.get("model"))
    ]
    return pd.DataFrame(rows, columns=cols)


def _evaluate(sim, bucket: float):
    """(bucket index, model, hit) for every evaluated view."""
    recs: dict = {}
    for t, p in _events(sim, RECOMMENDATIONS, "RecommendationGenerated"):
        times, lists = recs.setdefault((p.get("model"), p.get("user_id")), ([], []))
        times.append(t)
        lists.append(p.get("items") or [])
    models = [m for m in MODELS if any(key[0] == m for key in recs)]
    seen_users: set = set()
    rows = []
    for t, p in _events(sim, VIEWS, "UserViewedProduct"):
        user, product = p.get("user_id"), p.get("product_id")
        if not user or not product:
            continue
        if user in seen_users:
            for m in models:
                times, lists = recs.get((m, user), ((), ()))
                i = (
                    bisect.bisect_left(times, t) - 1
                )  # the latest generated strictly before the view
                rows.append((int(t // bucket), m, i >= 0 and product in lists[i]))
        seen_users.add(user)
    return models, rows


def hit_rates(sim):
    """Hit rate per model over the whole run, measured from the events: model, evaluated, hits, hit_rate."""
    import pandas as pd

    models, rows = _evaluate(sim, 1.0)
    table = []
    for m in models:
        hits = [h for _, mm, h in rows if mm == m]
        table.append(
            {
                "model": m,
                "evaluated": len(hits),
                "hits": sum(hits),
                "hit_rate": round(sum(hits) / len(hits), 3) if hits else float("nan"),
            }
        )
    return pd.DataFrame(table, columns=["model", "evaluated", "hits", "hit_rate"])


def hit_rate_over_time(sim, bucket: float = 60.0, *, cumulative: bool = False):
    """Hit rate per ``bucket`` seconds of virtual time, one column per model (index: bucket start, s).

    With ``cumulative=True`` each value is all hits so far over all views
    evaluated so far.
    """
    import pandas as pd

    if isinstance(bucket, bool) or not isinstance(bucket, (int, float)) or not bucket > 0:
        raise ValueError(f"bucket must be a number of virtual seconds > 0, got {bucket!r}")
    models, rows = _evaluate(sim, float(bucket))
    frame = pd.DataFrame(rows, columns=["bucket", "model", "hit"])
    if frame.empty:
        return pd.DataFrame(columns=models)
    frame["hit"] = frame["hit"].astype(int)
    grouped = frame.groupby(["bucket", "model"])["hit"].agg(["sum", "count"]).unstack("model")
    hits, counts = grouped["sum"][models], grouped["count"][models]
    if cumulative:
        hits, counts = hits.cumsum(), counts.cumsum()
    out = (hits / counts).round(3)
    out.index = (out.index * float(bucket)).rename("time")
    out.columns.name = None
    return out
