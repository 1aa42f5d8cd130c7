"""The course material: each notebook's world and its exercise check, found by the notebook's number.

Notebook NN has a package ``eda_sim.course.nbNN``: ``world.py`` builds the
simulations its story is told with (a crash mid-batch, a storm, a poison
event), so that notebook cells stay short and tests can check the stories;
``check.py`` holds its exercise checks.

A check never raises: it returns a :class:`Feedback` whose text reads well in a
notebook, so a notebook committed with its exercise still open runs top to
bottom, and whose score (a fixed list of items with points, ``to_json()``) a
grader can read. An untouched starting answer scores 0 and runs nothing; hints
come in steps (``check_x.hint()``, ``check_x.hint(2)``, the worked solution last). Each notebook's checks live in ``eda_sim.course.nbNN.check`` and can also be
imported from here; they load on first use, so importing this package stays cheap.

Example::

    from collections import Counter

    from eda_sim.course import check_idempotent_ledger

    ledger, seen = Counter(), set()

    def post_payment(event, ctx):                # a learner's answer: skip ids already posted
        if event.id not in seen:
            seen.add(event.id)
            ledger[event.payload["account"]] += event.payload["amount"]

    check_idempotent_ledger(post_payment, ledger, seen)   # ✔ / ✘ lines and a hint
"""

from importlib import import_module

from eda_sim.course.feedback import Feedback, checker

#: Every check, by the notebook module that holds it.
CHECKS = {
    "check_roles": "nb00",
    "check_events_vs_commands": "nb01",
    "check_second_group": "nb02",
    "check_ordering_key": "nb03",
    "check_reorder_window": "nb03",
    "check_group_sizing": "nb04",
    "check_static_deploy": "nb04",
    "check_idempotent_ledger": "nb05",
    "check_poll_loop": "nb05",
    "check_topic_settings": "nb06",
    "check_exact_payments": "nb07",
    "check_retry_policy": "nb08",
    "check_schema_evolution": "nb09",
    "check_autoscaler_plan": "nb10",
    "check_velocity": "nb11",
    "check_trace_carried": "nb12",
    "check_recommender_settings": "nb13",
    "check_fraud_design": "nb14",
    "check_backtest_config": "nb15",
    "check_broker_terms": "nb16",
    "check_quiz": "nb99",
}

__all__ = ["CHECKS", "Feedback", "checker", *CHECKS]


def __getattr__(name):
    if name in CHECKS:
        return getattr(import_module(f".{CHECKS[name]}.check", __name__), name)
    raise AttributeError(
        f"module {__name__!r} has no attribute {name!r}; checks: {', '.join(sorted(CHECKS))}"
    )
