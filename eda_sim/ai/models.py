"""Small online models learned from event streams: recommenders, fraud scoring, drift.

Everything here is plain Python and numpy, independent of the broker, so a
service can call it from its consumer loop one event at a time. Nothing is
random except ``RandomBaseline``, which takes a seed.

Recommendation (notebook 13)::

    from eda_sim.ai.datagen import clickstream
    from eda_sim.ai.models import ItemToItemRecommender, PopularityBaseline, hit_rate_at_k

    views = clickstream(seed=1)
    model = ItemToItemRecommender()
    curve = hit_rate_at_k(model, views, k=5, bucket=60.0)   # replays, learning as it goes
    curve["cumulative_hit_rate"].iloc[-1]                    # overall hit@5, about 0.39
    model.recommend("u007")                                 # ['p0222', 'p0173', ...]

Fraud scoring (notebooks 14, 15)::

    from eda_sim.ai.datagen import transactions
    from eda_sim.ai.models import FraudModel, ThresholdRule, card_features, precision_recall

    # the first hour of each stream only warms up the cards' state
    history = card_features(transactions(seed=1, duration=10800.0, fraud_rate=0.05),
                            warmup=3600.0)
    model = FraudModel().fit(history, history["is_fraud"])
    live = card_features(transactions(seed=2, duration=7200.0), warmup=3600.0)
    precision_recall(model.score_frame(live), live["is_fraud"], 0.5)   # (0.53, 0.55)

Drift (notebook 15)::

    from eda_sim.ai.models import DriftMonitor
    txns = transactions(seed=3, shift_at=1800.0)
    monitor = DriftMonitor([t["amount"] for t in txns if t["time"] < 900], window=200)
    for t in txns:
        if t["time"] >= 900 and monitor.observe(t["amount"], t["time"]) is not None \\
                and monitor.drifted:
            ...  # publish ModelDriftDetected
"""

from __future__ import annotations

import math
import random
from collections import deque

import numpy as np
import pandas as pd

from eda_sim.ai.datagen import haversine_km

__all__ = [
    "ItemToItemRecommender",
    "PopularityBaseline",
    "RandomBaseline",
    "hit_rate_at_k",
    "CardFeatures",
    "FEATURES",
    "card_features",
    "FraudModel",
    "ThresholdRule",
    "precision_recall",
    "precision_at_recall",
    "population_stability_index",
    "DriftMonitor",
]


def _check_k(k):
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"k must be an int >= 1, got {k!r}")
    if k < 1:
        raise ValueError(f"k must be an int >= 1, got {k}")


def _check_positive(name, value):
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not value > 0
        or math.isinf(value)
    ):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


# ---------------------------------------------------------------- recommenders


class _Recommender:
    """Shared bookkeeping: each user's recent views and each item's view count."""

    def __init__(self, k=5, history=5, window=120.0):
        _check_k(k)
        if isinstance(history, bool) or not isinstance(history, int) or history < 1:
            raise ValueError(f"history must be an int >= 1, got {history!r}")
        _check_positive("window", window)
        self.k = k
        self.history = history
        self.window = float(window)
        self._recent = {}  # user -> deque[(product, time)], oldest first
        self._counts = {}  # product -> views, in first-seen order

    def recent_items(self, user_id):
        """The user's recent products, most recent first, within ``window`` seconds
        of their last view (at most ``history`` of them)."""
        hist = self._recent.get(user_id)
        if not hist:
            return []
        last = hist[-1][1]
        out = []
        for product, t in reversed(hist):
            if last - t <= self.window and product not in out:
                out.append(product)
        return out

    def has_history(self, user_id):
        """True once the model has observed a view by this user."""
        return user_id in self._recent

    def _remember(self, user_id, product_id, time):
        self._counts[product_id] = self._counts.get(product_id, 0) + 1
        hist = self._recent.setdefault(user_id, deque(maxlen=self.history))
        hist.append((product_id, float(time)))

    def _popular(self, k, exclude):
        ranked = sorted(self._counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return [p for p, _ in ranked if p not in exclude][:k]

    def _k(self, k):
        k = self.k if k is None else k
        _check_k(k)
        return k


class PopularityBaseline(_Recommender):
    """Recommends the most viewed products so far, skipping the user's recent ones.

    Same interface as ``ItemToItemRecommender``: ``observe(user_id,
    product_id, time)`` and ``recommend(user_id, k=None)``. Ties are broken by
    product id.
    """

    def observe(self, user_id, product_id, time):
        """Count one view."""
        self._remember(user_id, product_id, time)

    def recommend(self, user_id, k=None):
        """The ``k`` most viewed products the user has not just seen."""
        return self._popular(self._k(k), set(self.recent_items(user_id)))


class RandomBaseline(_Recommender):
    """Recommends ``k`` products drawn at random from those seen so far.

    ``seed`` is an int or a ``random.Random``; the draws are reproducible.
    """

    def __init__(self, seed, k=5, history=5, window=120.0):
        super().__init__(k=k, history=history, window=window)
        self._rng = seed if isinstance(seed, random.Random) else random.Random(seed)

    def observe(self, user_id, product_id, time):
        """Remember the product as a candidate."""
        self._remember(user_id, product_id, time)

    def recommend(self, user_id, k=None):
        """``k`` distinct random known products the user has not just seen."""
        k = self._k(k)
        recent = set(self.recent_items(user_id))
        pool = [p for p in self._counts if p not in recent]
        return self._rng.sample(pool, min(k, len(pool)))


class ItemToItemRecommender(_Recommender):
    """An online co-visitation recommender ("people who viewed this next viewed...").

    ``observe(user_id, product_id, time)`` adds one to the co-occurrence count
    of the new product with each of the user's previous ``history`` products
    viewed within ``window`` seconds before it (both directions), then records
    the view. ``recommend(user_id, k)`` scores every neighbour of the user's
    recent products by its co-occurrence count, weighted by how recent the
    product it neighbours is (1 for the last view, 1/2 for the one before,
    ...), skips products the user has just seen, and fills any remaining
    places with the most popular products. Ties go to the higher count, then
    the smaller product id, so results are reproducible.
    """

    def __init__(self, k=5, history=5, window=120.0):
        super().__init__(k=k, history=history, window=window)
        self._co = {}  # product -> {neighbour: count}

    def observe(self, user_id, product_id, time):
        """Learn from one view: update co-occurrences, then the user's history."""
        hist = self._recent.get(user_id, ())
        time = float(time)
        linked = set()
        for other, t in hist:
            if other != product_id and other not in linked and time - t <= self.window:
                linked.add(other)
                row = self._co.setdefault(product_id, {})
                row[other] = row.get(other, 0) + 1
                row = self._co.setdefault(other, {})
                row[product_id] = row.get(product_id, 0) + 1
        self._remember(user_id, product_id, time)

    def neighbours(self, product_id, k=None):
        """The products most often viewed near ``product_id``, with their counts."""
        row = self._co.get(product_id, {})
        ranked = sorted(row.items(), key=lambda kv: (-kv[1], kv[0]))
        return ranked if k is None else ranked[:k]

    def recommend(self, user_id, k=None):
        """Top ``k`` products for the user (a list of product ids)."""
        k = self._k(k)
        recent = self.recent_items(user_id)
        seen = set(recent)
        scores = {}
        for rank, product in enumerate(recent):
            weight = 1.0 / (rank + 1)
            for other, count in self._co.get(product, {}).items():
                if other not in seen:
                    scores[other] = scores.get(other, 0.0) + weight * count
        ranked = [p for p, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))][:k]
        if len(ranked) < k:
            ranked += self._popular(k - len(ranked), seen | set(ranked))
        return ranked


def hit_rate_at_k(model, views, k=5, bucket=60.0):
    """Replay views in time order and measure how often the next view was recommended.

    For each view (an event dict or DataFrame row with ``time``, ``user_id``
    and ``product_id``; searches and rows without a product are skipped), if
    the user has viewed something before in this replay, ask
    ``model.recommend(user_id, k)`` *before* the model sees the view and count
    a hit when the viewed product is in it; then ``model.observe`` the view.

    Returns a DataFrame with one row per ``bucket`` seconds: ``start``,
    ``end``, ``evaluated`` (views checked), ``hits``, ``hit_rate`` (NaN for a
    bucket with nothing checked) and ``cumulative_hit_rate`` (all hits so far
    over all checks so far). The overall hit@k is the last
    ``cumulative_hit_rate``.
    """
    _check_k(k)
    _check_positive("bucket", bucket)
    frame = views if isinstance(views, pd.DataFrame) else pd.DataFrame(list(views))
    columns = ["start", "end", "evaluated", "hits", "hit_rate", "cumulative_hit_rate"]
    if frame.empty or "product_id" not in frame:
        return pd.DataFrame(columns=columns)
    frame = frame[frame["product_id"].notna()]
    if "type" in frame:
        frame = frame[frame["type"].fillna("UserViewedProduct") == "UserViewedProduct"]
    frame = frame.sort_values("time", kind="stable")
    known = set()
    evaluated, hits = {}, {}
    last_bucket = 0
    for time, user, product in zip(frame["time"], frame["user_id"], frame["product_id"]):
        b = int(time // bucket)
        last_bucket = max(last_bucket, b)
        if user in known:
            evaluated[b] = evaluated.get(b, 0) + 1
            if product in model.recommend(user, k):
                hits[b] = hits.get(b, 0) + 1
        known.add(user)
        model.observe(user, product, time)
    n = np.array([evaluated.get(b, 0) for b in range(last_bucket + 1)])
    h = np.array([hits.get(b, 0) for b in range(last_bucket + 1)])
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, h / np.maximum(n, 1), np.nan)
        cum = np.where(np.cumsum(n) > 0, np.cumsum(h) / np.maximum(np.cumsum(n), 1), np.nan)
    starts = np.arange(last_bucket + 1) * float(bucket)
    return pd.DataFrame(
        {
            "start": starts,
            "end": starts + bucket,
            "evaluated": n,
            "hits": h,
            "hit_rate": rate,
            "cumulative_hit_rate": cum,
        }
    )


# ---------------------------------------------------------------- fraud features

#: The features ``CardFeatures.update`` returns, in the order ``FraudModel`` uses.
FEATURES = (
    "amount",
    "count_10m",
    "sum_10m",
    "count_1h",
    "sum_1h",
    "seconds_since_prev",
    "distance_km",
    "speed_kmh",
    "is_new_device",
    "is_new_merchant",
    "amount_ratio",
    "prior_txns",
)

_NO_PREVIOUS = 86400.0
_MIN_GAP = 60.0


class CardFeatures:
    """Rolling per-card features, kept from the transactions a service has seen.

    ``update(txn)`` returns the features of ``txn`` computed from the card's
    state *before* it, then folds ``txn`` into that state; call it in event
    time order per card. The features (see ``FEATURES``):

    * ``amount``: the transaction's amount;
    * ``count_10m``, ``sum_10m``, ``count_1h``, ``sum_1h``: the card's earlier
      transactions (and their total amount) in the last 10 minutes / hour;
    * ``seconds_since_prev``: since the card's previous transaction
      (86400 when there is none);
    * ``distance_km``: from the previous transaction's location;
    * ``speed_kmh``: that distance over the time since, with the time taken as
      at least 60 s so two nearby purchases seconds apart do not look supersonic;
    * ``is_new_device``, ``is_new_merchant``: 1.0 if the card has history and
      has never used this device / merchant, else 0.0;
    * ``amount_ratio``: amount over the card's running mean amount (1.0 when
      there is no history);
    * ``prior_txns``: how many transactions the card made before.
    """

    def __init__(self):
        self._cards = {}

    def update(self, txn):
        """Features of ``txn`` from prior state (a dict keyed by ``FEATURES``), then learn it."""
        t = float(txn["time"])
        amount = float(txn["amount"])
        state = self._cards.get(txn["card_id"])
        if state is None:
            state = {
                "recent": deque(),
                "prev": None,
                "devices": set(),
                "merchants": set(),
                "n": 0,
                "total": 0.0,
            }
            self._cards[txn["card_id"]] = state
        recent = state["recent"]
        while recent and t - recent[0][0] > 3600.0:
            recent.popleft()
        in_10m = [a for s, a in recent if t - s <= 600.0]
        prev = state["prev"]
        if prev is None:
            since, distance, speed = _NO_PREVIOUS, 0.0, 0.0
        else:
            since = max(0.0, t - prev[0])
            distance = haversine_km(prev[1], prev[2], txn["lat"], txn["lon"])
            speed = distance / (max(since, _MIN_GAP) / 3600.0)
        has_history = state["n"] > 0
        features = {
            "amount": amount,
            "count_10m": float(len(in_10m)),
            "sum_10m": float(sum(in_10m)),
            "count_1h": float(len(recent)),
            "sum_1h": float(sum(a for _, a in recent)),
            "seconds_since_prev": since,
            "distance_km": distance,
            "speed_kmh": speed,
            "is_new_device": float(has_history and txn["device_id"] not in state["devices"]),
            "is_new_merchant": float(has_history and txn["merchant_id"] not in state["merchants"]),
            "amount_ratio": amount / (state["total"] / state["n"]) if has_history else 1.0,
            "prior_txns": float(state["n"]),
        }
        recent.append((t, amount))
        state["prev"] = (t, txn["lat"], txn["lon"])
        state["devices"].add(txn["device_id"])
        state["merchants"].add(txn["merchant_id"])
        state["n"] += 1
        state["total"] += amount
        return features


def card_features(transactions, warmup=0.0):
    """Run a fresh ``CardFeatures`` over transactions (in time order) into a DataFrame.

    One row per transaction at or after ``warmup`` seconds: ``txn_id``,
    ``time``, ``card_id``, the ``FEATURES`` columns, and ``is_fraud`` /
    ``fraud_pattern`` when the input has them. Transactions before ``warmup``
    only build the cards' state, the way a feature store holds history from
    before a model goes live; without it every card starts cold and its first
    devices and merchants all look new.
    """
    if isinstance(warmup, bool) or not isinstance(warmup, (int, float)) or not warmup >= 0:
        raise ValueError(f"warmup must be a number of seconds >= 0, got {warmup!r}")
    rows = sorted(transactions, key=lambda x: x["time"])
    features = CardFeatures()
    out = []
    for txn in rows:
        values = features.update(txn)
        if txn["time"] < warmup:
            continue
        row = {"txn_id": txn.get("txn_id"), "time": txn["time"], "card_id": txn["card_id"]}
        row.update(values)
        for label in ("is_fraud", "fraud_pattern"):
            if label in txn:
                row[label] = txn[label]
        out.append(row)
    columns = ["txn_id", "time", "card_id", *FEATURES]
    frame = pd.DataFrame(
        out, columns=columns + [c for c in ("is_fraud", "fraud_pattern") if out and c in out[0]]
    )
    if "fraud_pattern" in frame:
        # Keep None (not NaN) and one dtype whether or not any fraud is present.
        frame["fraud_pattern"] = pd.Series([r["fraud_pattern"] for r in out], dtype=object)
    return frame


# ---------------------------------------------------------------- fraud models


def _as_matrix(features, names):
    if isinstance(features, pd.DataFrame):
        missing = [n for n in names if n not in features]
        if missing:
            raise ValueError(f"features is missing columns {missing}; expected {list(names)}")
        return features[list(names)].to_numpy(dtype=float)
    if isinstance(features, dict):
        missing = [n for n in names if n not in features]
        if missing:
            raise ValueError(f"features is missing keys {missing}; expected {list(names)}")
        return np.array([[float(features[n]) for n in names]])
    raise TypeError(f"features must be a dict or a pandas DataFrame, got {type(features)}")


class FraudModel:
    """A logistic regression on card features, trained with plain numpy.

    Features (``FEATURES`` by default) are passed through ``log1p`` (they are
    non-negative and heavy-tailed) and standardised with the training mean and
    standard deviation. ``fit`` runs ``iterations`` steps of full-batch
    gradient descent from zero weights with L2 penalty ``l2``; with
    ``balanced=True`` the rare fraud class is weighted up so both classes
    count equally. No randomness is involved, so fitting is reproducible.
    ``score`` returns the probability of fraud.
    """

    def __init__(
        self, features=FEATURES, iterations=3000, learning_rate=1.0, l2=1e-4, balanced=False
    ):
        self.features = tuple(features)
        if not self.features:
            raise ValueError("features must name at least one feature, e.g. FEATURES")
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise ValueError(f"iterations must be an int >= 1, got {iterations!r}")
        _check_positive("learning_rate", learning_rate)
        if not l2 >= 0:
            raise ValueError(f"l2 must be >= 0, got {l2!r}")
        self.iterations = iterations
        self.learning_rate = float(learning_rate)
        self.l2 = float(l2)
        self.balanced = bool(balanced)
        self.weights = None
        self.bias = 0.0
        self._mean = None
        self._std = None

    def _transform(self, matrix):
        # Every feature is >= 0 and most have long tails (amounts, speeds):
        # log1p keeps a few extreme rows from dominating the standardisation.
        return np.log1p(np.clip(matrix, 0.0, None))

    def _prepare(self, matrix):
        return (self._transform(matrix) - self._mean) / self._std

    def fit(self, features_df, labels):
        """Learn weights from a DataFrame of features and 0/1 (or bool) labels; returns self."""
        x = self._transform(_as_matrix(features_df, self.features))
        y = np.asarray(labels, dtype=float)
        if y.shape != (x.shape[0],):
            raise ValueError(
                f"labels must have one value per row ({x.shape[0]}), got shape {y.shape}"
            )
        if not np.all((y == 0) | (y == 1)):
            raise ValueError("labels must be 0/1 or booleans")
        self._mean = x.mean(axis=0)
        std = x.std(axis=0)
        self._std = np.where(std > 0, std, 1.0)
        x = (x - self._mean) / self._std
        if self.balanced and 0 < y.sum() < len(y):
            pos = y.sum()
            w = np.where(y == 1, len(y) / (2 * pos), len(y) / (2 * (len(y) - pos)))
        else:
            w = np.ones_like(y)
        w = w / w.sum()
        beta = np.zeros(x.shape[1])
        bias = 0.0
        for _ in range(self.iterations):
            p = 1.0 / (1.0 + np.exp(-(x @ beta + bias)))
            err = w * (p - y)
            beta -= self.learning_rate * (x.T @ err + self.l2 * beta)
            bias -= self.learning_rate * err.sum()
        self.weights = beta
        self.bias = float(bias)
        return self

    def _check_fitted(self):
        if self.weights is None:
            raise ValueError("FraudModel is not fitted: call fit(features_df, labels) first")

    def score_frame(self, features_df):
        """Fraud probabilities for every row of a features DataFrame (a numpy array)."""
        self._check_fitted()
        z = self._prepare(_as_matrix(features_df, self.features)) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def score(self, features):
        """The fraud probability of one transaction's features (a dict from ``CardFeatures``)."""
        return float(self.score_frame(features)[0])

    def coefficients(self):
        """The learned weights per feature (on standardised log1p features), largest first."""
        self._check_fitted()
        series = pd.Series(self.weights, index=list(self.features), name="weight")
        return series.reindex(series.abs().sort_values(ascending=False).index)


class ThresholdRule:
    """A hand-written baseline: flag a transaction when amount > ``amount`` or speed >
    ``speed_kmh``.

    ``score`` returns 1.0 when flagged, else 0.0, so it plugs in wherever a
    ``FraudModel`` does (any threshold in (0, 1] gives the rule's decisions).
    """

    def __init__(self, amount=1000.0, speed_kmh=900.0):
        _check_positive("amount", amount)
        _check_positive("speed_kmh", speed_kmh)
        self.amount = float(amount)
        self.speed_kmh = float(speed_kmh)

    def score(self, features):
        """1.0 if the transaction breaks a threshold, else 0.0."""
        return float(self.score_frame(features)[0])

    def score_frame(self, features_df):
        """0/1 scores for every row of a features DataFrame (a numpy array)."""
        m = _as_matrix(features_df, ("amount", "speed_kmh"))
        return ((m[:, 0] > self.amount) | (m[:, 1] > self.speed_kmh)).astype(float)


def precision_recall(scores, labels, threshold):
    """``(precision, recall)`` of flagging every score >= ``threshold``.

    Precision is the share of flagged transactions that are fraud, recall the
    share of fraud that is flagged; each is 0.0 when its denominator is zero.
    """
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    if s.shape != y.shape:
        raise ValueError(
            f"scores and labels must have the same length, got {s.shape} and {y.shape}"
        )
    flagged = s >= threshold
    tp = int(np.sum(flagged & y))
    precision = tp / int(flagged.sum()) if flagged.any() else 0.0
    recall = tp / int(y.sum()) if y.any() else 0.0
    return precision, recall


def precision_at_recall(scores, labels, recall):
    """The best precision over thresholds whose recall is at least ``recall``.

    Returns ``(precision, recall, threshold)`` for the threshold (one of the
    scores) that achieves it; use it to compare two scorers at equal recall.
    Raises ``ValueError`` if ``recall`` is outside [0, 1]; a recall no
    threshold reaches gives ``(0.0, 0.0, inf)``.
    """
    if isinstance(recall, bool) or not isinstance(recall, (int, float)) or not 0 <= recall <= 1:
        raise ValueError(f"recall must be in [0, 1], got {recall!r}")
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    if s.shape != y.shape:
        raise ValueError(
            f"scores and labels must have the same length, got {s.shape} and {y.shape}"
        )
    best = (0.0, 0.0, math.inf)
    positives = int(y.sum())
    if positives == 0:
        return best
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    tp = np.cumsum(y_sorted)
    flagged = np.arange(1, len(s) + 1)
    # Only the last row of a run of equal scores is a threshold one can pick.
    last = np.append(s_sorted[1:] != s_sorted[:-1], True)
    for i in np.flatnonzero(last):
        r = tp[i] / positives
        if r >= recall:
            p = tp[i] / flagged[i]
            if p > best[0]:
                best = (float(p), float(r), float(s_sorted[i]))
    return best


# ---------------------------------------------------------------- drift


def population_stability_index(reference, live, bins=10, epsilon=1e-4):
    """The population stability index of ``live`` against ``reference``.

    Bins are the ``bins`` quantiles of the reference (repeated edges merged;
    the outer bins are open so live values outside the reference range still
    count). With ``r`` and ``l`` the share of each sample per bin (``epsilon``
    where a bin is empty), PSI = sum((l - r) * ln(l / r)). Rule of thumb:
    below 0.1 stable, 0.1 to 0.2 a moderate shift, above 0.2 a significant one.
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise ValueError(f"bins must be an int >= 2, got {bins!r}")
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(live, dtype=float)
    if ref.size == 0 or cur.size == 0:
        raise ValueError("reference and live must each hold at least one value")
    edges = np.unique(np.quantile(ref, np.linspace(0.0, 1.0, bins + 1))[1:-1])
    r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1)
    c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1)
    r = np.maximum(r / ref.size, epsilon)
    c = np.maximum(c / cur.size, epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


class DriftMonitor:
    """Watches a live feature against a reference sample, one window at a time.

    ``observe(value, time)`` collects values; every ``window`` values it
    computes the PSI of that window against ``reference_values``, records it,
    starts a new window and returns the PSI (otherwise it returns ``None``).
    ``drifted`` is True while the latest window's PSI exceeds ``threshold``;
    ``first_drift_at`` is the time of the first window over the threshold
    (``None`` until then); ``history`` lists ``(time, psi)`` per window and
    ``frame()`` gives it as a DataFrame.
    """

    def __init__(self, reference_values, threshold=0.2, window=200, bins=10):
        self.reference = np.asarray(list(reference_values), dtype=float)
        if self.reference.size < bins:
            raise ValueError(
                f"reference_values must hold at least bins={bins} values, got {self.reference.size}"
            )
        _check_positive("threshold", threshold)
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be an int >= 1, got {window!r}")
        self.threshold = float(threshold)
        self.window = window
        self.bins = bins
        self.drifted = False
        self.first_drift_at = None
        self.history = []
        self._buffer = []

    def observe(self, value, time):
        """Add one value; returns the window's PSI when this value completes a window."""
        self._buffer.append(float(value))
        if len(self._buffer) < self.window:
            return None
        psi = population_stability_index(self.reference, self._buffer, bins=self.bins)
        self._buffer = []
        self.history.append((float(time), psi))
        self.drifted = psi > self.threshold
        if self.drifted and self.first_drift_at is None:
            self.first_drift_at = float(time)
        return psi

    def frame(self):
        """The per-window PSI history: columns ``time``, ``psi``, ``drifted``."""
        frame = pd.DataFrame(self.history, columns=["time", "psi"])
        frame["drifted"] = frame["psi"] > self.threshold
        return frame
