"""nbgrader's generate_assignment with the course's own starters (only an instructor needs nbgrader).

nbgrader replaces each solution region with a code stub. The course has a
hand-written starting answer for every exercise (a dict of "?" to fill, a
handler that forgets the inbox), so :class:`UseStarter` puts that starter, kept
in the source cell's ``eda_sim.starter`` metadata, in the student's cell
instead. The course directory the release command writes sets it up in its
``nbgrader_config.py``::

    from eda_sim.course.nbgrader_ext import generate_preprocessors
    c.GenerateAssignment.preprocessors = generate_preprocessors()
"""

from __future__ import annotations

from nbgrader.converters.generate_assignment import GenerateAssignment
from nbgrader.preprocessors import ClearSolutions, NbGraderPreprocessor


class UseStarter(NbGraderPreprocessor):
    """Replace a solution cell's source by the starter in its ``eda_sim.starter`` metadata."""

    def preprocess_cell(self, cell, resources, index):
        """Swap in the starter and drop the metadata, so the release carries only the starter."""
        starter = cell.metadata.get("eda_sim", {}).get("starter")
        if starter is not None:
            cell.source = starter
        cell.metadata.pop("eda_sim", None)
        return cell, resources


def generate_preprocessors() -> list:
    """nbgrader's generate_assignment preprocessors with :class:`UseStarter` after ClearSolutions."""
    steps = list(GenerateAssignment.class_traits()["preprocessors"].default())
    at = steps.index(ClearSolutions) + 1
    return steps[:at] + [UseStarter] + steps[at:]
