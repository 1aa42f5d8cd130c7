"""The :class:`Feedback` a check returns, and the :func:`checker` decorator that keeps checks honest.

A check is declared with a stable exercise id and a fixed list of scored items::

    @checker(
        "idempotent-ledger",
        "Exercise 05 · make the ledger exact under redelivery",
        items=[("no-double-post", 2, "a redelivered payment is posted once"), ...],
        hints=["a nudge", "more of one"],          # the worked solution comes last, from the notebook
        starter=is_the_starting_answer,            # an untouched answer scores 0 and runs nothing
    )
    def check_idempotent_ledger(fb, post_payment, ledger, seen=None):
        ...
        fb.mark("no-double-post", ok, "what is right", "what is wrong, and why")

What the learner gets back (``str(feedback)``) reads like::

    Exercise 05 · make the ledger exact under redelivery: 3 of 5 points
      ✔ a real payment that looks like another was still posted
      ✘ a redelivered payment was posted twice (ledger 61, expected 60)
      stuck? check_idempotent_ledger.hint() gives a nudge, .hint(2) more, .hint(3) the worked solution

and what a grader reads (:meth:`Feedback.to_dict`, :meth:`Feedback.to_json`) holds the
exercise id, ``score``, ``max_score`` and every item with its points. The list of items
never depends on the answer: an item the check could not reach (the answer is invalid,
or the learner's code raised) is recorded as failed with the reason.

The learner's own functions run inside a guard (:meth:`Feedback.guard`): an exception
is reported as what it is, with its type, message, the learner's line and the event it
failed on, never as some other mistake the learner did not make.
"""

from __future__ import annotations

import functools
import inspect
import json
import linecache
import re
import sys
import traceback
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

_PACKAGE = str(
    Path(__file__).resolve().parent.parent
)  # eda_sim/: frames here are not the learner's
_LIBRARIES = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})  # nor are the standard library's

#: What an item's state can be.
PASSED, FAILED, NOT_CHECKED = "passed", "failed", "not checked"


@dataclass
class Item:
    """One scored point of an exercise: what it checks, its points, and what the check found."""

    id: str
    points: int
    text: str
    state: str = NOT_CHECKED
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.state == PASSED


@dataclass
class LearnerError:
    """An exception raised by the learner's own code, as the learner would want to read it."""

    type: str
    message: str
    line: int | None = None
    code: str = ""
    where: str = ""  # the learner's function, e.g. "post_payment"
    event: str = ""  # the event it was handling, when there was one

    def describe(self) -> str:
        text = f"your {self.where or 'code'} raised {self.type}: {self.message}"
        if self.line is not None:
            text += (
                f"\n      at line {self.line} of your cell: {self.code.strip()}"
                if self.code
                else ""
            )
            if not self.code:
                text += f" (line {self.line})"
        if self.event:
            text += f"\n      while handling {self.event}"
        return text


class _LearnerRaised(Exception):
    """Stops a check once the learner's code has raised (the error is already on the feedback)."""


@dataclass
class Feedback:
    """What a check found: a fixed list of scored items, the learner's own error if any, and hints."""

    exercise: str
    title: str
    items: list = field(default_factory=list)
    status: str = "checked"  # checked | not answered | invalid | error
    message: str = ""  # why an answer could not be checked (not answered, invalid)
    error: LearnerError | None = None
    notes: list = field(default_factory=list)  # unscored remarks
    check: str = ""  # the check's function name, for the hint line
    hints: tuple = ()

    # -- marking ------------------------------------------------------------------------------

    def _item(self, item_id: str) -> Item:
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(
            f"{self.exercise}: no item {item_id!r}; items: {', '.join(i.id for i in self.items)}"
        )

    def mark(self, item_id: str, condition, right: str, wrong: str) -> bool:
        """Set item ``item_id`` passed (with ``right``) or failed (with ``wrong``); return the condition."""
        it = self._item(item_id)
        it.state, it.detail = (PASSED, right) if condition else (FAILED, wrong)
        return bool(condition)

    def ok(self, item_id: str, text: str) -> None:
        """Mark ``item_id`` passed."""
        self.mark(item_id, True, text, "")

    def fail(self, item_id: str, text: str) -> None:
        """Mark ``item_id`` failed, saying why."""
        self.mark(item_id, False, "", text)

    def note(self, text: str) -> None:
        """A remark that scores nothing (an extra key, a setting the check ignores)."""
        self.notes.append(text)

    def invalid(self, text: str) -> None:
        """The answer cannot be checked as given (wrong type, unknown name): every item scores 0."""
        self.status, self.message = "invalid", text

    def guard(self, fn, where: str):
        """Wrap the learner's ``fn`` so an exception it raises is recorded on this feedback.

        The exception still propagates (a service treats it as the handler failing, as it would in
        real life); the check then reports it as the cause, with the learner's line and the event.
        """

        @functools.wraps(fn)
        def guarded(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as err:
                if self.error is None:
                    event = args[0] if args else None
                    self.error = learner_error(err, where, event)
                raise

        return guarded

    def stop_if_raised(self) -> None:
        """End the check when the learner's code raised: what follows would blame something else."""
        if self.error is not None:
            raise _LearnerRaised

    # -- reading ------------------------------------------------------------------------------

    @property
    def score(self) -> int:
        """Points of the passed items (0 unless the answer could be checked)."""
        return sum(it.points for it in self.items if it.passed)

    @property
    def max_score(self) -> int:
        """Points of all items: the same whatever the answer."""
        return sum(it.points for it in self.items)

    @property
    def passed(self) -> bool:
        """True when every item passed."""
        return bool(self.items) and all(it.passed for it in self.items)

    @property
    def right(self) -> list:
        """The texts of the passed items."""
        return [it.detail for it in self.items if it.passed]

    @property
    def missing(self) -> list:
        """What is wrong or unanswered: the reason the answer was not checked, then failed items."""
        head = [self.message] if self.message else []
        if self.error is not None:
            head.append(self.error.describe())
        return head + [
            it.detail
            for it in self.items
            if it.state == FAILED and it.detail and it.detail != self.message
        ]

    def to_dict(self) -> dict:
        """A plain dict for graders: exercise, status, score, max_score, items, error, notes."""
        return {
            "exercise": self.exercise,
            "title": self.title,
            "status": self.status,
            "score": self.score,
            "max_score": self.max_score,
            "passed": self.passed,
            "message": self.message,
            "error": asdict(self.error) if self.error else None,
            "items": [
                {
                    "id": it.id,
                    "points": it.points,
                    "text": it.text,
                    "state": it.state,
                    "score": it.points if it.passed else 0,
                    "detail": it.detail,
                }
                for it in self.items
            ],
            "notes": list(self.notes),
        }

    def to_json(self, **kwargs) -> str:
        """:meth:`to_dict` as JSON (keys in a fixed order)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    def hint(self, step: int = 1) -> Hint:
        """Hint ``step`` for this exercise (the last step is the worked solution)."""
        return Hint(self.check, self.hints, step)

    def __str__(self) -> str:
        head = f"{self.title}: "
        if self.status == "not answered":
            lines = [head + f"not answered yet (0 of {self.max_score} points)", f"  {self.message}"]
        else:
            head += f"{self.score} of {self.max_score} points"
            if self.passed:
                head += " · all checks pass ✔"
            lines = [head]
            if self.status == "invalid":
                lines.append(f"  ✘ {self.message}")
            if self.error is not None:
                lines.append(f"  ✘ {self.error.describe()}")
            for it in self.items:
                if it.state == PASSED:
                    lines.append(f"  ✔ {it.detail}")
                elif it.state == FAILED and it.detail:
                    lines.append(f"  ✘ {it.detail}")
            lines += [f"  · {n}" for n in self.notes]
        if not self.passed and self.check and self.hints:
            n = len(self.hints) + 1
            lines.append(
                f"  stuck? run {self.check}.hint() for a nudge; .hint(2) says more"
                + (f", .hint({n}) shows the worked solution" if n > 2 else "")
            )
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_pretty_(self, p, cycle) -> None:  # IPython shows the text, not a dataclass repr
        p.text(str(self))


@dataclass
class Hint:
    """One step of an exercise's hints; the last step is the worked solution."""

    check: str
    steps: tuple
    step: int = 1

    def text(self) -> str:
        total = len(self.steps) + 1
        n = min(max(1, int(self.step)), total)
        if n == total:
            body = "the worked solution:\n\n" + worked_solution(self.check)
        else:
            body = self.steps[n - 1]
        more = f"\n(more: {self.check}.hint({n + 1}))" if n < total else ""
        return f"hint {n} of {total}: {body}{more}"

    def __str__(self) -> str:
        return self.text()

    __repr__ = __str__

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(self.text())


def worked_solution(check: str) -> str:
    """The solution cell of the notebook whose exercise calls ``check``, read from the notebook sources.

    The answers live with the notebooks, not in the package, so a student copy without
    ``notebooks/src`` and ``notebooks/solutions`` has none to read.
    """
    roots = [Path(_PACKAGE).parent / "notebooks" / "src", Path.cwd() / "src"]
    for root in roots:
        if not root.is_dir():
            continue
        for src in sorted(root.glob("*.py")):
            text = src.read_text(encoding="utf-8")
            for cell in re.split(r"(?m)^(?=# %%)", text):
                if cell.startswith('# %% tags=["solution"]') and f"{check}(" in cell:
                    body = cell.split("\n", 1)[1].strip()
                    body = re.sub(r"(?m)^\s*### (BEGIN|END) SOLUTION\n", "", body)
                    return body
    return (
        "it is not in this copy of the course; the instructor's copy has it "
        "(notebooks/solutions/ in the repository)"
    )


def learner_error(err: BaseException, where: str = "", event=None) -> LearnerError:
    """Describe ``err`` by the learner's own frame: the last one outside the eda_sim package."""
    frames = [
        f
        for f in traceback.extract_tb(err.__traceback__)
        if not f.filename.startswith((_PACKAGE, *_LIBRARIES)) and "site-packages" not in f.filename
    ]
    # the guard's own frame is in the package; of the rest, the innermost is where the learner's code was
    frame = frames[-1] if frames else None
    code = ""
    if frame is not None:
        code = frame.line or linecache.getline(frame.filename, frame.lineno) or ""
    ev = ""
    if event is not None and hasattr(event, "type") and hasattr(event, "id"):
        payload = getattr(event, "payload", None)
        ev = f"{event.type} {event.id}" + (
            f" with payload {plain(payload)}" if payload is not None else ""
        )
    message = str(err) if not isinstance(err, KeyError) else f"{err} (no such key)"
    return LearnerError(
        type=type(err).__name__,
        message=message,
        line=frame.lineno if frame else None,
        code=code,
        where=where,
        event=ev,
    )


def plain(value):
    """A mapping shown as a plain dict (an event's payload is a read-only mapping with a long repr)."""
    return dict(value) if isinstance(value, Mapping) else value


def takes(fn, *names: str) -> str | None:
    """None if ``fn`` can be called with one argument per name in ``names``; else what is wrong."""
    if not callable(fn):
        return f"should be a function({', '.join(names)}), got {type(fn).__name__}"
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None  # a builtin or C function: let the call tell
    try:
        sig.bind(*names)
    except TypeError:
        params = ", ".join(sig.parameters)
        return (
            f"should take {len(names)} arguments ({', '.join(names)}); yours takes ({params}): "
            f"the service calls it as {getattr(fn, '__name__', 'handler')}({', '.join(names)})"
        )
    return None


def same_code(fn, source: str) -> bool:
    """True if function ``fn`` compiles to the same code as the function defined in ``source``.

    Used to recognise an untouched starter function: whatever file or cell it was defined in,
    the learner has not changed a single token that matters.
    """
    code = getattr(fn, "__code__", None)
    if code is None:
        return False
    try:
        compiled = compile(source, "<starter>", "exec")
    except SyntaxError:
        return False
    consts = [c for c in compiled.co_consts if inspect.iscode(c)]
    return any(_code_key(c) == _code_key(code) for c in consts)


def _code_key(code):
    return (
        code.co_code,
        code.co_names,
        code.co_varnames,
        tuple(_code_key(c) if inspect.iscode(c) else c for c in code.co_consts),
    )


def _answer_repr(args) -> str:
    text = ", ".join(repr(a) for a in args)
    return text if len(text) < 200 else text[:197] + "..."


def checker(
    exercise: str,
    title: str,
    items,
    hints=(),
    starter=None,
    not_answered: str = "fill in the exercise cell, then run it again",
):
    """Declare a check ``fn(feedback, *answer)``: a stable ``exercise`` id and a fixed list of ``items``.

    ``items`` is a list of ``(id, points, what it checks)``; ``hints`` the hint steps before the worked
    solution; ``starter(*answer) -> bool`` recognises the untouched starting answer, which scores 0
    and runs nothing (``not_answered`` says what to change). The wrapped check never raises.
    """
    items = [tuple(i) for i in items]
    ids = [i[0] for i in items]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{exercise}: item ids repeat: {ids}")

    def wrap(fn):
        name = fn.__name__

        @functools.wraps(fn)
        def run(*args, **kwargs) -> Feedback:
            fb = Feedback(
                exercise,
                title,
                [Item(i, int(p), t) for i, p, t in items],
                check=name,
                hints=tuple(hints),
            )
            untouched = False
            try:
                untouched = starter is not None and bool(starter(*args, **kwargs))
            except Exception:  # noqa: BLE001 - an answer the starter test cannot read is an answer
                pass
            if untouched:
                fb.status, fb.message = "not answered", not_answered
            else:
                try:
                    fn(fb, *args, **kwargs)
                except _LearnerRaised:
                    pass
                except Exception as err:  # noqa: BLE001 - feedback, not a crash
                    own = learner_error(err)
                    if fb.error is None and own.line is not None:
                        fb.error = own  # raised in the learner's code, called from the check
                    elif fb.error is None:
                        fb.status = "invalid"
                        fb.message = f"checking your answer ({_answer_repr(args)}) raised {type(err).__name__}: {err}"
            if fb.error is not None:
                fb.status = "error"
            for it in fb.items:
                if it.state == NOT_CHECKED:
                    it.state = FAILED
                    # after an error, an invalid or a missing answer, that message is the one thing to fix
                    checked = fb.status == "checked"
                    it.detail = f"not checked: {it.text}" if checked else ""
            return fb

        run.exercise = exercise
        run.items = items
        run.hint = lambda step=1: Hint(name, tuple(hints), step)
        return run

    return wrap


def all_placeholders(value) -> bool:
    """True if ``value`` is made only of placeholders ("?", "", None, ...) in dicts, lists and tuples."""
    if isinstance(value, dict):
        return all(all_placeholders(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(all_placeholders(v) for v in value)
    return value is ... or value is None or (isinstance(value, str) and value.strip() in ("", "?"))
