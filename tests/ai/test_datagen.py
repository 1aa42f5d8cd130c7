"""Tests for eda_sim.ai.datagen: seeded click and transaction streams."""

import random
import re
from collections import Counter, defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_sim.ai.datagen import (
    FRAUD_PATTERNS,
    MERCHANT_CATEGORIES,
    clickstream,
    haversine_km,
    transactions,
)

TXN_KEYS = [
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
]


@pytest.fixture(scope="module")
def views():
    return clickstream(1)


@pytest.fixture(scope="module")
def txns():
    return transactions(1)


# ------------------------------------------------------------------ clickstream


def test_clickstream_same_seed_gives_equal_output():
    assert clickstream(5, users=40) == clickstream(5, users=40)


def test_clickstream_accepts_a_random_instance_like_an_int_seed():
    assert clickstream(random.Random(5), users=40) == clickstream(5, users=40)


def test_clickstream_different_seeds_differ():
    assert clickstream(5, users=40) != clickstream(6, users=40)


def test_clickstream_default_has_a_few_thousand_events(views):
    assert 1500 <= len(views) <= 6000


def test_clickstream_events_have_the_documented_fields(views):
    for e in views:
        if e["type"] == "UserViewedProduct":
            assert list(e) == ["time", "type", "user_id", "session_id", "product_id", "category"]
            assert re.fullmatch(r"p\d{4}", e["product_id"])
        else:
            assert e["type"] == "UserSearchedQuery"
            assert e["product_id"] is None
            assert e["category"] in e["query"]
        assert re.fullmatch(r"u\d{3}", e["user_id"])
        assert re.fullmatch(r"s\d{4}", e["session_id"])
    assert {e["type"] for e in views} == {"UserViewedProduct", "UserSearchedQuery"}


def test_clickstream_times_strictly_increase_within_duration(views):
    times = [e["time"] for e in views]
    assert all(a < b for a, b in zip(times, times[1:]))
    assert 0.0 <= times[0] and times[-1] < 600.0


def test_clickstream_each_product_belongs_to_one_category(views):
    cats = defaultdict(set)
    for e in views:
        if e["product_id"]:
            cats[e["product_id"]].add(e["category"])
    assert all(len(c) == 1 for c in cats.values())


def test_clickstream_session_is_one_user_with_bounded_distinct_views(views):
    users, products = defaultdict(set), defaultdict(list)
    for e in views:
        users[e["session_id"]].add(e["user_id"])
        if e["product_id"]:
            products[e["session_id"]].append(e["product_id"])
    assert all(len(u) == 1 for u in users.values())
    assert all(1 <= len(p) <= 12 and len(set(p)) == len(p) for p in products.values())


def test_clickstream_sessions_mostly_stay_in_one_category(views):
    by_session = defaultdict(list)
    for e in views:
        if e["product_id"]:
            by_session[e["session_id"]].append(e["category"])
    pairs = [(a, b) for cats in by_session.values() for a, b in zip(cats, cats[1:])]
    same = sum(a == b for a, b in pairs) / len(pairs)
    assert same > 0.6  # 12 categories: about 0.08 if views were independent


def test_clickstream_consecutive_pairs_recur(views):
    by_session = defaultdict(list)
    for e in views:
        if e["product_id"]:
            by_session[e["session_id"]].append(e["product_id"])
    pairs = Counter(p for ps in by_session.values() for p in zip(ps, ps[1:]))
    repeated = sum(n for n in pairs.values() if n >= 3)
    assert repeated / sum(pairs.values()) > 0.3


def test_clickstream_popularity_is_skewed(views):
    counts = sorted(
        Counter(e["product_id"] for e in views if e["product_id"]).values(), reverse=True
    )
    top_tenth = sum(counts[: len(counts) // 10])
    assert top_tenth / sum(counts) > 0.25


def test_clickstream_ids_widen_for_many_products():
    events = clickstream(1, users=5, products=12000, categories=3, duration=60.0)
    assert all(re.fullmatch(r"p\d{5}", e["product_id"]) for e in events if e["product_id"])


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"duration": -1.0}, "duration"),
        ({"duration": 0.0}, "duration"),
        ({"users": 0}, "users"),
        ({"products": 0}, "products"),
        ({"categories": 400}, "categories"),
        ({"views_per_user_session": (5, 2)}, "views_per_user_session"),
        ({"views_per_user_session": (0, 2)}, "views_per_user_session"),
        ({"search_rate": 1.5}, "search_rate"),
    ],
)
def test_clickstream_bad_input_names_parameter(kwargs, name):
    with pytest.raises(ValueError, match=re.escape(name)):
        clickstream(1, **kwargs)


def test_clickstream_negative_duration_message_gives_valid_range():
    with pytest.raises(ValueError, match=r"duration must be in \(0\.0, inf\), got -5"):
        clickstream(1, duration=-5.0)


def test_clickstream_non_int_seed_is_a_type_error():
    with pytest.raises(TypeError, match="seed"):
        clickstream("one")


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    users=st.integers(1, 20),
    products=st.integers(1, 40),
    duration=st.floats(1.0, 300.0),
    lo=st.integers(1, 4),
    extra=st.integers(0, 6),
)
def test_clickstream_invariants_hold_for_any_size(seed, users, products, duration, lo, extra):
    categories = min(products, 5)
    events = clickstream(
        seed,
        users=users,
        products=products,
        categories=categories,
        duration=duration,
        views_per_user_session=(lo, lo + extra),
    )
    times = [e["time"] for e in events]
    assert all(a < b for a, b in zip(times, times[1:]))
    assert all(0.0 <= t < duration + 1.0 for t in times)  # ms nudges on ties at most
    per_session = Counter(e["session_id"] for e in events if e["product_id"])
    assert all(n <= lo + extra for n in per_session.values())


# ------------------------------------------------------------------ transactions


def test_transactions_same_seed_gives_equal_output():
    assert transactions(3, cards=50) == transactions(3, cards=50)


def test_transactions_different_seeds_differ():
    assert transactions(3, cards=50) != transactions(4, cards=50)


def test_transactions_have_the_documented_fields_and_ids(txns):
    assert 1000 <= len(txns) <= 4000
    for i, t in enumerate(txns):
        assert list(t) == TXN_KEYS
        assert t["txn_id"] == f"t{i:06d}"
        assert re.fullmatch(r"card\d{4}", t["card_id"])
        assert re.fullmatch(r"m\d{4}", t["merchant_id"])
        assert re.fullmatch(r"d\d{5}", t["device_id"])
        assert t["merchant_category"] in MERCHANT_CATEGORIES
        assert t["amount"] > 0
        assert t["is_fraud"] == (t["fraud_pattern"] is not None)
        assert t["fraud_pattern"] in (None, *FRAUD_PATTERNS)


def test_transactions_times_strictly_increase_within_duration(txns):
    times = [t["time"] for t in txns]
    assert all(a < b for a, b in zip(times, times[1:]))
    assert times[0] >= 0.0 and times[-1] < 3600.0


@pytest.mark.parametrize("rate", [0.02, 0.1, 0.3])
def test_transactions_fraud_fraction_is_close_to_fraud_rate(rate):
    txns = transactions(11, fraud_rate=rate)
    share = sum(t["is_fraud"] for t in txns) / len(txns)
    assert abs(share - rate) < 0.002


def test_transactions_zero_fraud_rate_has_no_fraud():
    assert not any(t["is_fraud"] for t in transactions(11, fraud_rate=0.0))


def test_transactions_contain_every_fraud_pattern(txns):
    assert set(FRAUD_PATTERNS) <= {t["fraud_pattern"] for t in txns}


def _by_card(txns):
    cards = defaultdict(list)
    for t in txns:
        cards[t["card_id"]].append(t)
    return cards


def test_card_testing_is_a_burst_of_tiny_amounts():
    txns = transactions(2, fraud_rate=0.05)
    tests = [t for t in txns if t["fraud_pattern"] == "card_testing"]
    assert all(t["amount"] <= 3.0 for t in tests)
    in_burst = [
        t
        for t in tests
        if any(
            u is not t and u["card_id"] == t["card_id"] and abs(u["time"] - t["time"]) <= 600.0
            for u in tests
        )
    ]
    assert len(in_burst) >= 0.9 * len(tests)
    assert max(Counter(t["card_id"] for t in tests).values()) >= 3


def test_impossible_travel_is_far_from_the_previous_purchase_soon_after():
    txns = transactions(2, fraud_rate=0.05)
    checked = 0
    for rows in _by_card(txns).values():
        for prev, t in zip(rows, rows[1:]):
            if t["fraud_pattern"] == "impossible_travel" and prev["fraud_pattern"] is None:
                km = haversine_km(prev["lat"], prev["lon"], t["lat"], t["lon"])
                hours = (t["time"] - prev["time"]) / 3600.0
                assert km > 2500 and km / hours > 2000
                checked += 1
    assert checked >= 1


def test_account_takeover_uses_a_new_device_and_spends_big():
    txns = transactions(2, fraud_rate=0.05)
    checked = 0
    for rows in _by_card(txns).values():
        legit = [t["amount"] for t in rows if not t["is_fraud"]]
        for i, t in enumerate(rows):
            if t["fraud_pattern"] == "account_takeover" and legit:
                earlier = {
                    u["device_id"] for u in rows[:i] if u["fraud_pattern"] != t["fraud_pattern"]
                }
                assert t["device_id"] not in earlier
                assert t["amount"] > 2 * sorted(legit)[len(legit) // 2]
                checked += 1
    assert checked >= 1


def test_large_first_time_merchant_is_new_and_large():
    txns = transactions(2, fraud_rate=0.05)
    checked = 0
    for rows in _by_card(txns).values():
        legit = [t["amount"] for t in rows if not t["is_fraud"]]
        for i, t in enumerate(rows):
            if t["fraud_pattern"] == "large_first_time_merchant" and legit:
                assert t["merchant_id"] not in {u["merchant_id"] for u in rows[:i]}
                assert t["merchant_category"] in ("electronics", "travel", "jewelry")
                assert t["amount"] > 3 * sorted(legit)[len(legit) // 2]
                checked += 1
    assert checked >= 1


def test_genuine_purchases_stay_near_home():
    for rows in _by_card(transactions(2)).values():
        legit = [t for t in rows if not t["is_fraud"]]
        assert len({t["country"] for t in legit}) <= 1


@pytest.mark.parametrize("rate", [-0.1, 0.51, 1.0])
def test_fraud_rate_out_of_range_raises_with_range(rate):
    with pytest.raises(ValueError, match=r"fraud_rate must be in \[0\.0, 0\.5\]"):
        transactions(1, fraud_rate=rate)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"duration": -10.0}, "duration"),
        ({"cards": 0}, "cards"),
        ({"shift_at": -1.0}, "shift_at"),
        ({"shift_at": 5000.0}, "shift_at"),
        ({"shift_at": 10.0, "shift": {"amount_scale": 0}}, "amount_scale"),
        ({"shift_at": 10.0, "shift": {"new_merchant_share": 2}}, "new_merchant_share"),
        ({"shift_at": 10.0, "shift": {"colour": 1}}, "amount_scale"),  # lists the valid keys
        ({"shift": {"amount_scale": 2.0}}, "shift_at"),
    ],
)
def test_transactions_bad_input_names_parameter(kwargs, name):
    with pytest.raises(ValueError, match=re.escape(name)):
        transactions(1, **kwargs)


def test_shift_scales_amounts_after_shift_at_only():
    base = transactions(8)
    shifted = transactions(8, shift_at=1800.0, shift={"amount_scale": 2.0})
    for a, b in zip(base, shifted):
        assert a["time"] == b["time"]
        factor = 1.0 if a["time"] < 1800.0 else 2.0
        assert b["amount"] == pytest.approx(a["amount"] * factor, abs=0.011)


def test_shift_new_merchant_mix_appears_after_shift_at_only():
    txns = transactions(8, shift_at=1800.0, shift={"amount_scale": 1.0, "new_merchant_share": 0.4})
    before = [t for t in txns if t["time"] < 1800.0]
    after = [t for t in txns if t["time"] >= 1800.0]
    assert not any(t["merchant_category"] == "marketplace" for t in before)
    share = sum(t["merchant_category"] == "marketplace" for t in after) / len(after)
    assert 0.3 < share < 0.5


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32), rate=st.floats(0.0, 0.5), cards=st.integers(5, 60))
def test_fraud_share_matches_rate_to_one_transaction(seed, rate, cards):
    txns = transactions(seed, cards=cards, duration=1800.0, fraud_rate=rate)
    n = len(txns)
    fraud = sum(t["is_fraud"] for t in txns)
    legit = n - fraud
    assert fraud == round(rate * legit / (1 - rate)) if legit else fraud == 0
