"""Exercise checks for the notebooks: feedback that says what is right, what is missing, and a hint.

A check never raises: it returns a :class:`Feedback` whose text reads well in a
notebook, so a notebook committed with its exercise still open runs top to
bottom. Each notebook's checks live in a module named after it
(``eda_sim.exercises.nb05`` for notebook 05) and can also be imported from
here; they load on first use, so importing this package stays cheap.

Example::

    from eda_sim.exercises import check_idempotent_ledger
    check_idempotent_ledger(post_payment, ledger, seen)   # ✔ / ✘ lines and a hint
"""

from importlib import import_module

from .feedback import Feedback, checker

#: Every check, by the notebook module that holds it.
CHECKS = {
    "check_roles": "nb00",
    "check_events_vs_commands": "nb01",
    "check_second_group": "nb02",
    "check_ordering_key": "nb03",
    "check_reorder_window": "nb03",
    "check_group_sizing": "nb04",
    "check_idempotent_ledger": "nb05",
    "check_retry_policy": "nb06",
    "check_schema_evolution": "nb07",
    "check_autoscaler_plan": "nb08",
    "check_trace_carried": "nb09",
    "check_recommender_settings": "nb10",
    "check_fraud_design": "nb11",
    "check_backtest_config": "nb12",
    "check_broker_terms": "nb13",
    "check_quiz": "nb99",
}

__all__ = ["CHECKS", "Feedback", "checker", *CHECKS]


def __getattr__(name):
    if name in CHECKS:
        return getattr(import_module(f".{CHECKS[name]}", __name__), name)
    raise AttributeError(
        f"module {__name__!r} has no attribute {name!r}; checks: {', '.join(sorted(CHECKS))}"
    )
