"""Checks for notebook 05 (delivery and idempotency): make the ledger exact."""

from __future__ import annotations

from collections import Counter

from eda_sim.course.feedback import checker, learner_error, plain, same_code, takes
from eda_sim.course.nb05 import crash_loop
from eda_sim.course.nb05.world import duplicates_delivered, expected_totals, payments_world

#: The exercise cell's starting handler: it posts every delivery, copies included.
STARTER = """
def post_payment(event, ctx):
    ledger[event.payload["account"]] += event.payload["amount"]
"""


@checker(
    "idempotent-ledger",
    "Exercise 05 · make the ledger exact under redelivery",
    items=[
        ("no-double-post", 2, "a redelivered payment is posted once"),
        ("no-skip", 1, "every real payment is posted, even one that looks like another"),
        ("balances", 1, "every account's balance is right"),
    ],
    hints=[
        "after the crash the broker delivers some payments again: what tells a copy of a payment apart "
        "from a new payment that happens to look the same?",
        "remember each event's id (event.id) in the set `seen` before you post it, and return early when "
        "the id is already there; two payments can be equal in everything but their id, so never "
        "compare payloads",
    ],
    starter=lambda post_payment, *rest, **kw: same_code(post_payment, STARTER),
    not_answered="post_payment is still the starting handler, which posts every delivery; change it so "
    "a payment delivered twice is posted once, then run the cell again",
)
def check_idempotent_ledger(fb, post_payment, ledger, seen=None) -> None:
    """Run the crash scenario with the learner's ``post_payment(event, ctx)`` that adds to ``ledger``.

    ``ledger`` is the learner's Counter; ``seen`` (optional) their set of processed ids, cleared first so
    the check can be run repeatedly.
    """
    wrong = takes(post_payment, "event", "ctx")
    if wrong:
        fb.invalid(f"post_payment {wrong}")
        return
    if not isinstance(ledger, dict):
        fb.invalid(
            f"ledger should be the Counter your handler adds to, got {type(ledger).__name__}"
        )
        return
    ledger.clear()
    if seen is not None and hasattr(seen, "clear"):
        seen.clear()
    guarded = fb.guard(post_payment, "post_payment")
    posts: Counter = Counter()  # event id -> deliveries that changed the ledger
    payloads: dict = {}

    def watched(event, ctx):
        before = dict(ledger)
        payloads[event.id] = event.payload
        guarded(event, ctx)
        posts[event.id] += dict(ledger) != before

    sim, _ = payments_world(watched, crash_at=0.43)
    fb.stop_if_raised()
    expected = expected_totals()
    dups = duplicates_delivered(sim)
    fb.note(f"the crash made the broker deliver {dups} payment(s) twice, as at-least-once allows")
    twice = sorted(i for i, n in posts.items() if n > 1)
    skipped = sorted(i for i in payloads if posts[i] == 0)
    total, want = sum(ledger.values()), sum(expected.values())
    if not any(posts.values()):
        fb.fail("no-double-post", "your handler posted nothing to the ledger")
    else:
        fb.mark(
            "no-double-post",
            not twice,
            "each redelivered payment was posted once",
            f"{len(twice)} redelivered payment(s) were posted twice, e.g. {twice[0]} "
            f"{plain(payloads[twice[0]]) if twice else ''}: the ledger holds {total}, the payments add up to {want}"
            if twice
            else "",
        )
    fb.mark(
        "no-skip",
        not skipped,
        "every real payment was posted, even the one equal to another in all but its id",
        f"{len(skipped)} real payment(s) were never posted, e.g. {skipped[0]} {plain(payloads[skipped[0]])}: "
        "two different payments can have the same account and amount"
        if skipped
        else "",
    )
    fb.mark(
        "balances",
        dict(ledger) == dict(expected),
        f"every account's balance is right (the ledger total is exact: {total})",
        f"balances differ: {dict(sorted(ledger.items()))} vs expected {dict(sorted(expected.items()))}",
    )


hint = check_idempotent_ledger.hint


# -- the poll-process-commit loop, under a crash schedule ----------------------------------------

#: The exercise cell's starting loop: it subscribes and does nothing else.
STARTER_LOOP = """
def run(consumer, topics, handle, running):
    consumer.subscribe(topics)
    # your loop: poll, skip what is not a record, handle(msg), commit; stop when running() is False
"""


def _loop_starter(run, config=None, *rest, **kw) -> bool:
    return same_code(run, STARTER_LOOP)


@checker(
    "poll-loop",
    "Exercise 05 · a poll-process-commit loop that survives kills",
    items=[
        ("nothing-lost", 2, "every record is handled, whatever the kill"),
        ("commit-after", 2, "no commit moves past a record not yet handled"),
        ("bounded", 1, f"a kill makes the next process repeat at most {crash_loop.WINDOW} records"),
        ("committed-at-end", 1, "at the end the group's commits cover every handled record"),
        ("errors", 1, "error events are skipped, not handled, and the loop goes on"),
        ("lifecycle", 1, "the loop runs until running() is False, then closes the consumer"),
    ],
    hints=[
        "poll() gives you None (nothing arrived in time), an error event (msg.error() is set) or a "
        "record. After a kill the group restarts from its committed offsets: at what moment may a "
        "record's offset be committed so that a kill can never skip it? And where does a new group "
        "start reading (notebook 02)?",
        "CONFIG needs 'auto.offset.reset': 'earliest' and 'enable.auto.commit': False. The loop: "
        "subscribe(topics); then, inside try/finally, while running(): msg = consumer.poll(1.0); skip "
        "None and error events; handle(msg); consumer.commit(message=msg, asynchronous=False). "
        "close() goes in the finally block",
    ],
    starter=_loop_starter,
    not_answered="run still only subscribes; write the loop (poll, handle, commit, close), then run "
    "the cell again",
)
def check_poll_loop(fb, run, config) -> None:
    """Run the learner's ``run(consumer, topics, handle, running)`` with consumer ``config`` under the
    crash schedule of :mod:`eda_sim.course.nb05.crash_loop` and score what happened to the records."""
    wrong = takes(run, "consumer", "topics", "handle", "running")
    if wrong:
        fb.invalid(f"run {wrong}".replace("the service calls", "the check calls"))
        return
    if not isinstance(config, dict):
        fb.invalid(
            f"CONFIG should be a dict of consumer settings, e.g. {{'group.id': 'ledger'}}, got "
            f"{type(config).__name__}"
        )
        return
    result = crash_loop.crash_schedule(run, dict(config))
    if result.config_error:
        fb.invalid(f"the Consumer refused CONFIG: {result.config_error}")
        return
    if result.error is not None:
        fb.error = learner_error(result.error, "run")
        fb.stop_if_raised()
    kills = sum(p.ended == "killed" for p in result.processes)
    fb.note(
        f"{len(result.processes)} processes ran; {kills} were killed; {crash_loop.RECORDS} records, "
        f"{sum(result.handled.values())} handlings ({result.duplicates} repeated)"
    )
    _mark_lost(fb, result, config)
    ahead = result.commit_ahead
    auto = config.get("enable.auto.commit", True) not in (False, "false")
    stored = config.get("enable.auto.offset.store", True) not in (False, "false")
    committed_any = any(r.kind == "committed" for r in result.sim.journal)
    fb.mark(
        "commit-after",
        ahead is None and committed_any,
        "every commit came after the records it covers were handled",
        f"{ahead}: "
        + (
            "auto-commit in librdkafka commits what poll() returned, handled or not; turn it off "
            "(enable.auto.commit: False) or store offsets yourself after handling"
            if auto and stored
            else "commit a record's offset after handle(msg) returns, never before"
        )
        if ahead
        else "nothing was committed: commit each record's offset after handle(msg) returns",
    )
    worst = result.max_repeated
    fb.mark(
        "bounded",
        kills and worst <= crash_loop.WINDOW,
        f"a kill repeated at most {worst} record(s) (at-least-once: the records handled since the "
        "last commit come again)",
        (
            "no process was killed: the loop never handled enough records to reach a kill"
            if not kills
            else f"a kill made the next process handle {worst} records again, more than "
            f"{crash_loop.WINDOW}: "
            + (
                "nothing was ever committed, so each new process started over"
                if not committed_any
                else "commit after every record (or at least every "
                f"{crash_loop.WINDOW}), or make the auto-commit timer short enough"
            )
        ),
    )
    gaps = result.uncommitted
    fb.mark(
        "committed-at-end",
        not gaps and committed_any,
        "at the end the commits cover every record: a new process would start after the last one",
        "at the end "
        + ", ".join(f"{n} record(s) of {crash_loop.TOPIC}-{p}" for p, n in sorted(gaps.items()))
        + " were not committed: a new process would handle them again"
        if gaps
        else "nothing was committed",
    )
    _mark_errors(fb, result)
    _mark_lifecycle(fb, result)


def _mark_lost(fb, result, config) -> None:
    lost = result.lost
    if not lost:
        fb.ok("nothing-lost", f"all {crash_loop.RECORDS} records were handled despite the kills")
        return
    resets = [r for r in result.sim.journal.rows("offset_reset") if "latest" in r.detail]
    why = (
        f"{len(lost)} of {crash_loop.RECORDS} records were never handled, e.g. {crash_loop.TOPIC}-"
    )
    why += f"{lost[0][0]} offset {lost[0][1]}: "
    if not any(p.handled for p in result.processes) and resets:
        why += (
            "your group started at the end of the log, so it never saw the records already there: "
            "auto.offset.reset is 'latest' unless you set 'earliest' (notebook 02)"
        )
    elif result.commit_ahead:
        why += "they were committed before handle() finished, and the process died in between"
    else:
        why += "no process handed them to handle()"
    fb.fail("nothing-lost", why)


def _mark_errors(fb, result) -> None:
    seen = sum(p.errors_seen for p in result.processes)
    handled = sum(p.errors_handled for p in result.processes)
    stopped = any(p.stopped_at_error for p in result.processes)
    if handled:
        fb.fail(
            "errors",
            f"{handled} error event(s) went to handle(): check msg.error() before you handle a "
            "message, and skip (log) the error events",
        )
    elif stopped:
        fb.fail(
            "errors",
            f"your loop stopped at an error event: poll() reports the topic '{crash_loop.MISSING}', "
            "not created yet, as UNKNOWN_TOPIC_OR_PART; it is not fatal, so log it and keep polling",
        )
    elif not seen:
        fb.fail(
            "errors",
            "your loop never met the error event: subscribe to the topics it is given",
        )
    else:
        fb.ok(
            "errors",
            f"the {seen} error event(s) (topic '{crash_loop.MISSING}' does not exist yet) were skipped "
            "and the loop went on",
        )


def _mark_lifecycle(fb, result) -> None:
    last = result.processes[-1] if result.processes else None
    if last is None or last.ended == "overrun":
        fb.fail(
            "lifecycle",
            "your loop went on after running() returned False (or never asked it): loop with "
            "`while running():`",
        )
    elif any(p.stopped_early for p in result.processes):
        fb.fail(
            "lifecycle",
            "your run returned while running() was still True (an empty poll only means nothing "
            "arrived within the timeout): keep polling until running() is False",
        )
    elif not last.closed:
        fb.fail(
            "lifecycle",
            "the last process returned without closing its consumer: call consumer.close() in a "
            "finally block, so the group hands its partitions on at once",
        )
    else:
        fb.ok("lifecycle", "the loop stopped when running() turned False and closed the consumer")


hint_loop = check_poll_loop.hint
