"""Exercise checks for the notebooks: feedback that says what is right, what is missing, and a hint.

A check never raises: it returns a :class:`Feedback` whose text reads well in a
notebook, so a notebook committed with its exercise still open runs top to
bottom. Each notebook's checks live in a module named after it
(``eda_sim.exercises.nb05`` for notebook 05) and are re-exported here.

Example::

    from eda_sim.exercises import check_idempotent_ledger
    check_idempotent_ledger(my_handler)      # shows ✔ / ✘ lines and a hint
"""

from .feedback import Feedback, checker

__all__ = ["Feedback", "checker"]
