"""Seeded synthetic event streams for the AI notebooks: clicks and card payments.

Each generator returns a list of plain dicts sorted by ``time`` (virtual
seconds, strictly increasing), ready to be produced as event payloads. A seed
fixes every value; the same seed gives the same list, a different seed a
different one. Ids are zero-padded counters (``"u007"``, ``"p0123"``,
``"card0042"``, ``"t000123"``), never random.

``clickstream`` models shoppers: each user prefers a few categories, products
have skewed popularity within their category, and views come in sessions where
a user tends to stay in a category and to move from a product to one of a
small set of related products. Those recurring co-viewed pairs are what an
item-to-item recommender can learn and a popularity list cannot.

``transactions`` models card payments: each card has a home city, a few usual
merchants, a typical amount and one or two devices. Fraud is injected in four
labelled patterns (``FRAUD_PATTERNS``) so that the fraudulent fraction is
``fraud_rate``; ``shift_at`` changes the distribution half way for drift
demonstrations.

Example::

    from eda_sim.ai.datagen import clickstream, transactions

    views = clickstream(seed=7, users=50, duration=300.0)
    views[0]   # {'time': 0.035, 'type': 'UserSearchedQuery', 'user_id': 'u035',
               #  'session_id': 's0000', 'product_id': None, 'category': 'games',
               #  'query': 'new games'}

    txns = transactions(seed=7, fraud_rate=0.02, shift_at=1800.0,
                        shift={"amount_scale": 2.0})
    sum(t["is_fraud"] for t in txns) / len(txns)   # close to 0.02
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Mapping

__all__ = [
    "CATEGORY_NAMES",
    "CITIES",
    "FRAUD_PATTERNS",
    "MERCHANT_CATEGORIES",
    "clickstream",
    "transactions",
    "haversine_km",
]

#: Names used for the first categories of ``clickstream``; further ones are
#: called ``"category13"``, ``"category14"``, ...
CATEGORY_NAMES = (
    "books",
    "electronics",
    "garden",
    "toys",
    "kitchen",
    "sports",
    "beauty",
    "music",
    "games",
    "clothing",
    "shoes",
    "outdoor",
    "pets",
    "office",
    "automotive",
    "jewelry",
)

_QUERY_WORDS = ("best", "cheap", "new", "gift", "top rated", "sale")

#: The labelled fraud patterns ``transactions`` injects, in the order they are
#: first used.
FRAUD_PATTERNS = (
    "card_testing",
    "impossible_travel",
    "account_takeover",
    "large_first_time_merchant",
)

#: (name, country, latitude, longitude). Cards live in the first nine.
CITIES = (
    ("London", "GB", 51.507, -0.128),
    ("Paris", "FR", 48.857, 2.352),
    ("Berlin", "DE", 52.520, 13.405),
    ("Madrid", "ES", 40.417, -3.704),
    ("Rome", "IT", 41.903, 12.496),
    ("Amsterdam", "NL", 52.368, 4.904),
    ("New York", "US", 40.713, -74.006),
    ("Chicago", "US", 41.878, -87.630),
    ("Toronto", "CA", 43.653, -79.383),
    ("Sao Paulo", "BR", -23.551, -46.633),
    ("Lagos", "NG", 6.524, 3.379),
    ("Mumbai", "IN", 19.076, 72.878),
    ("Singapore", "SG", 1.352, 103.820),
    ("Sydney", "AU", -33.869, 151.209),
    ("Tokyo", "JP", 35.677, 139.650),
)
_HOME_CITIES = 9

#: Merchant category -> how much a purchase there costs relative to the card's
#: typical amount.
MERCHANT_CATEGORIES = {
    "grocery": 1.0,
    "fuel": 1.0,
    "restaurant": 0.9,
    "pharmacy": 0.7,
    "clothing": 1.5,
    "entertainment": 0.8,
    "online_retail": 1.2,
    "digital_goods": 0.3,
    "electronics": 3.0,
    "travel": 4.0,
    "jewelry": 5.0,
}
_EVERYDAY = (
    "grocery",
    "fuel",
    "restaurant",
    "pharmacy",
    "clothing",
    "entertainment",
    "online_retail",
)
_BIG_TICKET = ("electronics", "travel", "jewelry")
_SHIFT_CATEGORY = "marketplace"
_SHIFT_KEYS = {
    "amount_scale": "a factor > 0 applied to amounts after shift_at",
    "new_merchant_share": "a fraction in [0, 1] of purchases after "
    "shift_at made at merchants new to the stream",
}


# ----------------------------------------------------------------- validation


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")


def _check_range(name, value, lo, hi, *, lo_open=False, hi_open=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    left, right = ("(" if lo_open else "["), (")" if hi_open else "]")
    bad = (
        math.isnan(value)
        or (value <= lo if lo_open else value < lo)
        or (value >= hi if hi_open else value > hi)
    )
    if bad:
        raise ValueError(f"{name} must be in {left}{lo}, {hi}{right}, got {value}")


def _check_pair(name, pair, minimum):
    if (
        not isinstance(pair, (tuple, list))
        or len(pair) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair)
    ):
        raise TypeError(f"{name} must be a pair of ints (low, high), got {pair!r}")
    lo, hi = pair
    if not minimum <= lo <= hi:
        raise ValueError(f"{name} must satisfy {minimum} <= low <= high, got {pair!r}")


def _rng(seed):
    if isinstance(seed, random.Random):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int or a random.Random, got {seed!r}")
    return random.Random(seed)


def _pad(prefix, number, width):
    return f"{prefix}{number:0{width}d}"


def _width(count, minimum):
    return max(minimum, len(str(max(count - 1, 0))))


def _strictly_increasing(events):
    """Round times to the millisecond and nudge ties forward by 1 ms, in place."""
    prev = -math.inf
    for event in events:
        t = round(event["time"], 3)
        if t <= prev:
            t = round(prev + 0.001, 3)
        event["time"] = t
        prev = t


def _dirichlet(rng, n, concentration):
    draws = [rng.gammavariate(concentration, 1.0) for _ in range(n)]
    total = sum(draws) or 1.0
    return [d / total for d in draws]


def _cumulative(weights):
    out, acc = [], 0.0
    for w in weights:
        acc += w
        out.append(acc)
    return out


def _pick(rng, items, cum):
    """One item drawn with the weights whose running sums are ``cum``."""
    return items[min(bisect.bisect_right(cum, rng.random() * cum[-1]), len(items) - 1)]


def _pick_new(rng, items, cum, taken):
    """A weighted draw from ``items`` not in ``taken``, or ``None`` if all are taken.

    Rejection sampling keeps a draw cheap; after a few misses it falls back to
    the first item (in ``items`` order) not taken, so extreme weights cannot
    stall it.
    """
    for _ in range(32):
        item = _pick(rng, items, cum)
        if item not in taken:
            return item
    return next((item for item in items if item not in taken), None)


def haversine_km(lat1, lon1, lat2, lon2):
    """Great-circle distance in kilometres between two (lat, lon) points in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(a)))


# ----------------------------------------------------------------- clickstream


def clickstream(
    seed,
    *,
    users=200,
    products=300,
    categories=12,
    duration=600.0,
    views_per_user_session=(3, 12),
    sessions_per_user=(1, 3),
    search_rate=0.15,
    follow_related=0.7,
    stay_in_category=0.85,
    related_per_product=4,
    mean_gap=6.0,
    preference_concentration=0.3,
    popularity_skew=1.1,
):
    """A seeded stream of product views and searches, sorted by time.

    Every event is a dict with ``time`` (seconds in ``[0, duration)``),
    ``type`` (``"UserViewedProduct"`` or ``"UserSearchedQuery"``),
    ``user_id``, ``session_id``, ``product_id`` (``None`` for a search) and
    ``category``; searches also carry ``query``.

    How it is made: products are dealt to categories and get a Zipf-like
    popularity within their category (``popularity_skew``); each product has
    ``related_per_product`` related products (mostly in its category, one in
    a neighbouring category). Each user has category preferences drawn from a
    Dirichlet with ``preference_concentration`` (smaller = more focused) and
    makes ``sessions_per_user`` sessions starting at uniform times. A session
    is ``views_per_user_session`` views about ``mean_gap`` seconds apart: the
    next view follows a related product of the current one with probability
    ``follow_related``, else stays in the category with probability
    ``stay_in_category``, else moves to another preferred category. A product
    is not viewed twice in one session. Before a view picked from a category
    (rather than followed from a related product) the user searches for the
    category with probability ``search_rate``, at most once per visit to it.

    Raises ``ValueError`` (or ``TypeError``) naming the parameter and its valid
    range for bad input, e.g. a duration that is not positive.
    """
    rng = _rng(seed)
    _check_int("users", users, 1)
    _check_int("products", products, 1)
    _check_int("categories", categories, 1)
    if categories > products:
        raise ValueError(f"categories must be in [1, products={products}], got {categories}")
    _check_range("duration", duration, 0.0, math.inf, lo_open=True, hi_open=True)
    _check_pair("views_per_user_session", views_per_user_session, 1)
    _check_pair("sessions_per_user", sessions_per_user, 0)
    for name, value in (
        ("search_rate", search_rate),
        ("follow_related", follow_related),
        ("stay_in_category", stay_in_category),
    ):
        _check_range(name, value, 0.0, 1.0)
    _check_int("related_per_product", related_per_product, 0)
    _check_range("mean_gap", mean_gap, 0.0, math.inf, lo_open=True, hi_open=True)
    _check_range(
        "preference_concentration",
        preference_concentration,
        0.0,
        math.inf,
        lo_open=True,
        hi_open=True,
    )
    _check_range("popularity_skew", popularity_skew, 0.0, math.inf, hi_open=True)

    cat_names = [
        CATEGORY_NAMES[c] if c < len(CATEGORY_NAMES) else f"category{c + 1}"
        for c in range(categories)
    ]
    pwidth = _width(products, 4)
    product_ids = [_pad("p", i, pwidth) for i in range(products)]

    # Deal shuffled products round-robin so every category has at least one.
    order = list(range(products))
    rng.shuffle(order)
    members = [[] for _ in range(categories)]
    product_cat = [0] * products
    for slot, p in enumerate(order):
        members[slot % categories].append(p)
        product_cat[p] = slot % categories
    # Within a category the dealing order is the popularity rank.
    cat_cum = [
        _cumulative([1.0 / (r + 1) ** popularity_skew for r in range(len(m))]) for m in members
    ]

    # Related products: popular-weighted picks in the category, plus one from
    # the next category (a complementary product).
    related = []
    for p in range(products):
        c = product_cat[p]
        chosen = []
        want_same = related_per_product - (1 if categories > 1 and related_per_product > 1 else 0)
        taken = {p}
        for _ in range(min(want_same, len(members[c]) - 1)):
            q = _pick_new(rng, members[c], cat_cum[c], taken)
            taken.add(q)
            chosen.append(q)
        if len(chosen) < related_per_product and categories > 1:
            nxt = (c + 1) % categories
            chosen.append(_pick(rng, members[nxt], cat_cum[nxt]))
        related.append(chosen)
    # The first related product is followed most often.
    rel_cum = [_cumulative([1.0 / (i + 1) for i in range(len(r))]) for r in related]

    uwidth = _width(users, 3)
    cats = list(range(categories))
    sessions = []  # (start, user index, events)
    for u in range(users):
        prefs = _cumulative(_dirichlet(rng, categories, preference_concentration))
        lo_s, hi_s = sessions_per_user
        starts = sorted(rng.uniform(0.0, duration) for _ in range(rng.randint(lo_s, hi_s)))
        for start in starts:
            events = []
            t = start
            n_views = rng.randint(*views_per_user_session)
            c = _pick(rng, cats, prefs)
            current = None
            seen = set()
            searched = False
            for _ in range(n_views):
                nxt = None
                if current is not None:
                    unseen = [q for q in related[current] if q not in seen]
                    if unseen and rng.random() < follow_related:
                        nxt = _pick_new(rng, related[current], rel_cum[current], seen)
                    elif rng.random() >= stay_in_category:
                        c = _pick(rng, cats, prefs)
                        searched = False
                if nxt is None:
                    if all(q in seen for q in members[c]):
                        break
                    if not searched and rng.random() < search_rate:
                        words = _QUERY_WORDS[rng.randrange(len(_QUERY_WORDS))]
                        events.append(
                            {
                                "time": t,
                                "type": "UserSearchedQuery",
                                "user_id": _pad("u", u, uwidth),
                                "product_id": None,
                                "category": cat_names[c],
                                "query": f"{words} {cat_names[c]}",
                            }
                        )
                        searched = True
                        t += 1.0 + rng.expovariate(1.0 / mean_gap)
                    nxt = _pick_new(rng, members[c], cat_cum[c], seen)
                if t >= duration:
                    break
                c = product_cat[nxt]
                current = nxt
                seen.add(nxt)
                events.append(
                    {
                        "time": t,
                        "type": "UserViewedProduct",
                        "user_id": _pad("u", u, uwidth),
                        "product_id": product_ids[nxt],
                        "category": cat_names[c],
                    }
                )
                t += 1.0 + rng.expovariate(1.0 / mean_gap)
            events = [e for e in events if e["time"] < duration]
            if events:
                sessions.append((start, u, events))

    sessions.sort(key=lambda s: (s[0], s[1]))
    swidth = _width(len(sessions), 4)
    out = []
    for number, (_, _, events) in enumerate(sessions):
        sid = _pad("s", number, swidth)
        for e in events:
            e["session_id"] = sid
            out.append(e)
    out.sort(key=lambda e: e["time"])  # stable: ties keep session order
    _strictly_increasing(out)
    keys = ("time", "type", "user_id", "session_id", "product_id", "category", "query")
    return [{k: e[k] for k in keys if k in e} for e in out]


# ----------------------------------------------------------------- transactions


def _check_shift(shift_at, shift, duration):
    if shift_at is None:
        if shift is not None:
            raise ValueError(
                "shift needs shift_at: a time in [0, duration] after which the shift applies"
            )
        return {"amount_scale": 1.0, "new_merchant_share": 0.0}
    _check_range("shift_at", shift_at, 0.0, duration)
    if shift is None:
        shift = {"amount_scale": 2.0}
    if not isinstance(shift, Mapping):
        raise TypeError(f"shift must be a dict with keys {sorted(_SHIFT_KEYS)}, got {shift!r}")
    unknown = sorted(set(shift) - set(_SHIFT_KEYS))
    if unknown:
        raise ValueError(
            f"shift has unknown keys {unknown}; valid keys: "
            + "; ".join(f"{k} ({v})" for k, v in sorted(_SHIFT_KEYS.items()))
        )
    out = {"amount_scale": 1.0, "new_merchant_share": 0.0, **shift}
    _check_range(
        "shift['amount_scale']", out["amount_scale"], 0.0, math.inf, lo_open=True, hi_open=True
    )
    _check_range("shift['new_merchant_share']", out["new_merchant_share"], 0.0, 1.0)
    return out


def transactions(
    seed,
    *,
    cards=300,
    duration=3600.0,
    fraud_rate=0.02,
    merchants=200,
    txns_per_card_hour=6.0,
    shift_at=None,
    shift=None,
):
    """A seeded stream of card transactions with labelled fraud, sorted by time.

    Every transaction is a dict with ``time``, ``txn_id``, ``card_id``,
    ``amount``, ``merchant_id``, ``merchant_category``, ``country``, ``lat``,
    ``lon``, ``device_id``, ``is_fraud`` and ``fraud_pattern`` (``None`` or one
    of ``FRAUD_PATTERNS``).

    Genuine spending: each card has a home city, one or two devices, four to
    eight usual merchants it mostly buys from, a typical amount (log-normal,
    scaled by the merchant category) and its own purchase rate (mean
    ``txns_per_card_hour``). Some genuine purchases are at new merchants, a
    few are big-ticket or on a new device, so no single signal is clean.

    Fraud: incidents of the four patterns are added on random cards until the
    fraudulent fraction of the whole stream is ``fraud_rate`` (exactly, up to
    rounding to a whole transaction); the first four incidents cover every
    pattern once, so each appears whenever there are at least 13 fraudulent
    transactions.

    * ``card_testing``: three to seven tiny amounts (0.50 to 3.00) at one new
      online merchant from a new device, seconds to a minute apart;
    * ``impossible_travel``: one or two purchases in a city thousands of km
      from home a few minutes after a genuine purchase at home;
    * ``account_takeover``: a new device and one to three purchases of six to
      25 times the typical amount;
    * ``large_first_time_merchant``: one purchase of ten to 40 times the
      typical amount at a big-ticket merchant the card never used.

    Drift: with ``shift_at`` (seconds) every transaction after that time is
    changed by ``shift``, a dict with ``amount_scale`` (amounts multiplied,
    default 2.0) and ``new_merchant_share`` (that fraction of genuine purchases
    moves to a new ``"marketplace"`` merchant category, default 0.0).

    Raises ``ValueError`` (or ``TypeError``) naming the parameter and its valid
    range, e.g. for ``fraud_rate`` outside ``[0, 0.5]`` or a duration that is
    not positive.
    """
    rng = _rng(seed)
    _check_int("cards", cards, 1)
    _check_range("duration", duration, 0.0, math.inf, lo_open=True, hi_open=True)
    _check_range("fraud_rate", fraud_rate, 0.0, 0.5)
    _check_int("merchants", merchants, len(MERCHANT_CATEGORIES))
    _check_range(
        "txns_per_card_hour", txns_per_card_hour, 0.0, math.inf, lo_open=True, hi_open=True
    )
    shift = _check_shift(shift_at, shift, duration)

    # Merchants: every category is represented; the rest are mostly everyday.
    cat_list = list(MERCHANT_CATEGORIES)
    merchant_cat = [
        cat_list[i]
        if i < len(cat_list)
        else (
            _EVERYDAY[rng.randrange(len(_EVERYDAY))]
            if rng.random() < 0.8
            else cat_list[rng.randrange(len(cat_list))]
        )
        for i in range(merchants)
    ]
    n_shift = 20
    mwidth = _width(merchants + n_shift, 4)
    merchant_ids = [_pad("m", i, mwidth) for i in range(merchants + n_shift)]
    by_cat = {c: [m for m in range(merchants) if merchant_cat[m] == c] for c in cat_list}
    everyday = [m for m in range(merchants) if merchant_cat[m] in _EVERYDAY]
    big_ticket = [m for m in range(merchants) if merchant_cat[m] in _BIG_TICKET]
    shift_merchants = list(range(merchants, merchants + n_shift))

    device_counter = [0]

    def new_device():
        device_counter[0] += 1
        return _pad("d", device_counter[0] - 1, 5)

    cwidth = _width(cards, 4)
    profiles = []
    for c in range(cards):
        home = CITIES[rng.randrange(_HOME_CITIES)]
        usual = rng.sample(everyday, min(len(everyday), rng.randint(4, 8)))
        profiles.append(
            {
                "card_id": _pad("card", c, cwidth),
                "home": home,
                "usual": usual,
                "usual_cum": _cumulative([1.0 / (i + 1) for i in range(len(usual))]),
                "median": math.exp(rng.uniform(math.log(8.0), math.log(120.0))),
                "devices": [new_device() for _ in range(1 if rng.random() < 0.7 else 2)],
                "rate": rng.gammavariate(2.0, txns_per_card_hour / 2.0) / 3600.0,
            }
        )

    def place(profile, city=None):
        _, country, lat, lon = city or profile["home"]
        return {
            "country": country,
            "lat": round(lat + rng.uniform(-0.03, 0.03), 4),
            "lon": round(lon + rng.uniform(-0.03, 0.03), 4),
        }

    def amount_for(profile, category, factor=1.0):
        value = (
            profile["median"]
            * MERCHANT_CATEGORIES.get(category, 1.2)
            * rng.lognormvariate(0.0, 0.45)
            * factor
        )
        return max(0.5, value)

    def txn(card, profile, t, merchant, amount, device, where, pattern=None):
        return {
            "time": t,
            "card": card,
            "card_id": profile["card_id"],
            "amount": amount,
            "merchant_id": merchant_ids[merchant],
            "merchant_category": (
                merchant_cat[merchant] if merchant < merchants else _SHIFT_CATEGORY
            ),
            **where,
            "device_id": device,
            "is_fraud": pattern is not None,
            "fraud_pattern": pattern,
        }

    legit = []
    for card, prof in enumerate(profiles):
        t = rng.expovariate(prof["rate"])
        while t < duration:
            shifted = shift_at is not None and t >= shift_at
            r = rng.random()
            # Always draw, so a shift of amounts alone leaves everything else as is.
            moved = rng.random() < shift["new_merchant_share"]
            if shifted and moved:
                m = shift_merchants[rng.randrange(n_shift)]
                amount = amount_for(prof, _SHIFT_CATEGORY)
            elif r < 0.015:  # a genuine big purchase, often somewhere new
                m = big_ticket[rng.randrange(len(big_ticket))]
                amount = amount_for(prof, merchant_cat[m], rng.uniform(1.0, 3.0))
            elif r < 0.13:  # somewhere new but ordinary
                m = everyday[rng.randrange(len(everyday))]
                amount = amount_for(prof, merchant_cat[m])
            else:
                m = _pick(rng, prof["usual"], prof["usual_cum"])
                amount = amount_for(prof, merchant_cat[m])
            d = rng.random()
            if d < 0.01:  # a new phone
                prof["devices"].append(new_device())
                device = prof["devices"][-1]
            elif len(prof["devices"]) > 1 and d < 0.2:
                device = prof["devices"][rng.randrange(1, len(prof["devices"]))]
            else:
                device = prof["devices"][0]
            legit.append(txn(card, prof, t, m, amount, device, place(prof)))
            t += rng.expovariate(prof["rate"])

    # Fraud incidents until the fraudulent share is fraud_rate.
    target = round(fraud_rate * len(legit) / (1.0 - fraud_rate)) if fraud_rate else 0
    legit_by_card = {}
    for x in legit:
        legit_by_card.setdefault(x["card"], []).append(x)
    active_cards = sorted(legit_by_card)
    fraud = []
    incident = 0
    while len(fraud) < target:
        if incident < len(FRAUD_PATTERNS):
            pattern = FRAUD_PATTERNS[incident]
        else:
            pattern = FRAUD_PATTERNS[rng.randrange(len(FRAUD_PATTERNS))]
        incident += 1
        card = active_cards[rng.randrange(len(active_cards))]
        prof = profiles[card]
        t0 = rng.uniform(0.0, duration)
        batch = []
        if pattern == "card_testing":
            m = by_cat["digital_goods"][rng.randrange(len(by_cat["digital_goods"]))]
            device = new_device()
            t = t0
            for _ in range(rng.randint(3, 7)):
                batch.append(
                    txn(card, prof, t, m, rng.uniform(0.5, 3.0), device, place(prof), pattern)
                )
                t += rng.uniform(5.0, 60.0)
        elif pattern == "impossible_travel":
            # An anchor early enough that the trip abroad falls inside the stream.
            anchors = [
                x for x in legit_by_card[card] if x["time"] + 1200.0 < duration
            ] or legit_by_card[card]
            anchor = anchors[rng.randrange(len(anchors))]
            far = [
                city
                for city in CITIES
                if haversine_km(city[2], city[3], prof["home"][2], prof["home"][3]) > 2500
            ]
            city = far[rng.randrange(len(far))]
            t = anchor["time"] + rng.uniform(120.0, 1200.0)
            device = prof["devices"][0] if rng.random() < 0.5 else new_device()
            for _ in range(rng.randint(1, 2)):
                m = everyday[rng.randrange(len(everyday))]
                batch.append(
                    txn(
                        card,
                        prof,
                        t,
                        m,
                        amount_for(prof, merchant_cat[m], 1.5),
                        device,
                        place(prof, city),
                        pattern,
                    )
                )
                t += rng.uniform(30.0, 300.0)
        elif pattern == "account_takeover":
            device = new_device()
            t = t0
            for _ in range(rng.randint(1, 3)):
                cat = ("electronics", "digital_goods", "online_retail", "jewelry")[rng.randrange(4)]
                m = by_cat[cat][rng.randrange(len(by_cat[cat]))]
                amount = prof["median"] * rng.uniform(6.0, 25.0)
                batch.append(txn(card, prof, t, m, amount, device, place(prof), pattern))
                t += rng.uniform(20.0, 300.0)
        else:  # large_first_time_merchant
            used = {x["merchant_id"] for x in legit_by_card[card]}
            fresh = [m for m in big_ticket if merchant_ids[m] not in used] or big_ticket
            m = fresh[rng.randrange(len(fresh))]
            amount = prof["median"] * rng.uniform(10.0, 40.0)
            batch.append(txn(card, prof, t0, m, amount, prof["devices"][0], place(prof), pattern))
        batch = [x for x in batch if x["time"] < duration]
        fraud.extend(batch[: target - len(fraud)])

    out = legit + fraud
    out.sort(key=lambda x: (x["time"], x["card"]))
    _strictly_increasing(out)
    twidth = _width(len(out), 6)
    keys = (
        "time",
        "txn_id",
        "card_id",
        "amount",
        "merchant_id",
        "merchant_category",
        "country",
        "lat",
        "lon",
        "device_id",
        "is_fraud",
        "fraud_pattern",
    )
    result = []
    for number, x in enumerate(out):
        x["txn_id"] = _pad("t", number, twidth)
        if shift_at is not None and x["time"] >= shift_at:
            x["amount"] *= shift["amount_scale"]
        x["amount"] = round(x["amount"], 2)
        result.append({k: x[k] for k in keys})
    return result
