"""Every exercise check, table-driven: right, partly right, wrong, garbage and raising answers.

The contract a learner (and a grader) relies on:

* a check never raises, and returns a result with a stable exercise id, a fixed list of
  scored items (the same ids and points whatever the answer), ``score``/``max_score`` and JSON;
* a right answer scores full marks; a partly right one scores more than 0 and less than full;
  a wrong one scores less than the partly right one; garbage scores 0 and says what was expected;
* the learner's own exception is reported as what it is (type, message, their line, the event);
* the feedback names the actual cause (the ``says`` texts), never another mistake (``not_says``);
* the notebook's untouched starter cell scores 0 and runs nothing; its solution cell scores full;
* hints come in steps and end with the worked solution.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from eda_sim import kafka
from eda_sim.course import CHECKS, Feedback
from eda_sim.course.nb00 import check as nb00
from eda_sim.course.nb01 import check as nb01
from eda_sim.course.nb07.program import next_offsets
from eda_sim.course.nb09 import check as nb09
from eda_sim.course.nb16 import check as nb16
from eda_sim.course.nb16.world import TERMS
from eda_sim.services.retries import Retry
from eda_sim.services.service import new_event, publish

ROOT = Path(__file__).resolve().parents[2]


def check(name):
    import eda_sim.course as ex

    return getattr(ex, name)


class Exploding(dict):
    """An answer that raises when the check reads it: the learner's own object failing."""

    def get(self, *args, **kwargs):
        raise RuntimeError("boom from the learner's object")

    __getitem__ = __iter__ = __contains__ = items = keys = values = get

    def __eq__(self, other):
        return False

    __hash__ = None


# -- the answers, per check ---------------------------------------------------------------

ROLES = {k: v for k, (v, _) in nb00.ROLES.items()}
MESSAGES = {k: v for k, (v, _) in nb01.MESSAGES.items()}
TABLE_WORDS = {b: {i: TERMS[nb16.ROW[i]][b] for i in ideas} for b, ideas in nb16.QUESTIONS.items()}
QUIZ = {1: "b", 2: "b", 3: "a", 4: "c", 5: "b", 6: "c", 7: "c", 8: "b", 9: "b", 10: "b", 11: "b"}


def v2_with_device(required=False, **device):
    schema = copy.deepcopy(nb09.VIEW_V1)
    schema["properties"]["device"] = device or {"type": "string"}
    if required:
        schema["required"].append("device")
    return schema


PLAN = {
    "min_instances": 2,
    "max_instances": 6,
    "scale_out_lag": 40,
    "scale_in_lag": 5,
    "cooldown": 1,
}


def fraud_event(producer, consumers, topic):
    return {"producer": producer, "consumers": consumers, "topic": topic}


FRAUD = {
    "events": {
        "TransactionSubmitted": fraud_event("payments-api", ["feature-service"], "transactions"),
        "TransactionFeaturesComputed": fraud_event(
            "feature-service", ["fraud-scorer", "model-monitor"], "transaction-features"
        ),
        "TransactionScored": fraud_event("fraud-scorer", ["fraud-alerting"], "fraud-scores"),
        "FraudSuspected": fraud_event("fraud-alerting", ["case-management"], "fraud-alerts"),
        "ModelDeployed": fraud_event(
            "model-registry", ["fraud-scorer", "model-monitor"], "model-events"
        ),
        "ModelDriftDetected": fraud_event("model-monitor", ["model-registry"], "model-events"),
    },
    "flow": [
        "TransactionSubmitted",
        "TransactionFeaturesComputed",
        "TransactionScored",
        "FraudSuspected",
    ],
    "dead_letters": {"transactions": "transactions.DLT"},
}

#: One service reads each transaction and publishes the alert, with a monitor and a dead-letter topic:
#: well formed, but without the feature and scoring steps the exercise asks for.
ONE_SERVICE_FRAUD = {
    "events": {
        "TransactionSubmitted": fraud_event(
            "payments-api", ["fraud-service", "model-monitor"], "transactions"
        ),
        "FraudSuspected": fraud_event("fraud-service", ["case-management"], "fraud-alerts"),
        "ModelDeployed": fraud_event(
            "model-registry", ["fraud-service", "model-monitor"], "model-events"
        ),
        "ModelDriftDetected": fraud_event("model-monitor", ["model-registry"], "model-events"),
    },
    "flow": ["TransactionSubmitted", "FraudSuspected"],
    "dead_letters": {"transactions": "transactions.DLT"},
}


PAYMENTS_OK = {"acks": "all", "min.insync.replicas": 2, "unclean.leader.election.enable": False}
CLICKS_OK = {"acks": 1, "min.insync.replicas": 1, "unclean.leader.election.enable": True}


def payments_handler(*, offsets_in_transaction, inbox, transaction=True):
    """A process_batch for notebook 07, right or with one of the usual slips."""

    def process_batch(messages, consumer, producer, store):
        if transaction:
            producer.begin_transaction()
        for m in messages:
            pay = json.loads(m.value())
            store.handle(pay["id"], pay["account"], pay["amount"], inbox=inbox)
            producer.produce("posted", key=pay["account"], value=json.dumps({"id": pay["id"]}))
        if offsets_in_transaction:
            producer.send_offsets_to_transaction(
                next_offsets(kafka, messages), consumer.consumer_group_metadata()
            )
        if transaction:
            producer.commit_transaction()
        if not offsets_in_transaction:
            consumer.commit(asynchronous=False)

    return process_batch


def raising_config(name):
    return {"group.instance.id": name.upper() + 1}


def ledger_case(kind):
    """(post_payment, ledger, seen) for notebook 05, in one of several learner styles."""
    ledger, seen = Counter(), set()

    def by_id(event, ctx):
        if event.id in seen:
            return
        seen.add(event.id)
        ledger[event.payload["account"]] += event.payload["amount"]

    def by_payload(event, ctx):
        k = (event.payload["account"], event.payload["amount"])
        if k in seen:
            return
        seen.add(k)
        ledger[event.payload["account"]] += event.payload["amount"]

    def naive(event, ctx):
        ledger[event.payload["account"]] += event.payload["amount"] * 1

    def typo(event, ctx):
        ledger[event.payload["acount"]] += event.payload["amount"]

    def no_ctx(event):
        ledger[event.payload["account"]] += event.payload["amount"]

    fn = {"by-id": by_id, "by-payload": by_payload, "naive": naive, "typo": typo, "no-ctx": no_ctx}
    return fn[kind], ledger, seen


LOOP_CONFIG = {"group.id": "ledger", "auto.offset.reset": "earliest", "enable.auto.commit": False}


def loop_case(kind):
    """A run(consumer, topics, handle, running) for notebook 05's poll loop, right or with a usual slip."""

    def loop(consumer, topics, handle, running):
        consumer.subscribe(topics)
        try:
            while running() or kind == "forever":
                msg = consumer.poll(1.0)
                if msg is None:
                    continue
                if msg.error():
                    if kind == "raise-on-error":
                        raise kafka.KafkaException(msg.error())
                    if kind != "errors-handled":
                        continue
                if kind == "commit-first":
                    consumer.commit(message=msg, asynchronous=False)
                try:
                    handle(msg)
                except Exception:  # noqa: BLE001 - a broad except must not swallow a kill
                    continue
                if kind == "store":
                    consumer.store_offsets(message=msg)
                elif kind in ("right", "forever", "no-close", "commit-error"):
                    consumer.commit(message=msg, asynchronous=False)
                elif kind == "errors-handled" and not msg.error():
                    consumer.commit(message=msg, asynchronous=False)
        finally:
            if kind not in ("no-close", "auto"):
                consumer.close()

    def commit_error(consumer, topics, handle, running):
        consumer.subscribe(topics)
        while running():
            msg = consumer.poll(1.0)
            if msg is not None:
                handle(msg)
                consumer.commit(message=msg, asynchronous=False)

    return commit_error if kind == "commit-error" else loop


def enrich_case(kind):
    """An enricher for notebook 09."""

    def emit(event, ctx):
        ctx.emit("orders-enriched", "OrderEnriched", {"order": event.payload["order"], "vip": True})

    def other_type(event, ctx):
        ctx.emit("orders-enriched", "OrderPlaced", {"order": event.payload["order"], "vip": True})

    def scratch(event, ctx):
        enriched = new_event(
            ctx.sim, "OrderEnriched", {"order": event.payload["order"]}, key=event.key
        )
        publish(ctx.service.producer, "orders-enriched", enriched)

    def wrong_emit(event, ctx):
        ctx.emit("OrderEnriched", {"order": event.payload["order"], "vip": True})

    def one_arg(event):
        return None

    return {
        "emit": emit,
        "other-type": other_type,
        "scratch": scratch,
        "wrong-emit": wrong_emit,
        "one-arg": one_arg,
    }[kind]


# (check, kind, args, texts the feedback must contain, texts it must not contain)
CASES = [
    # 00
    ("check_roles", "right", (ROLES,), ["all checks pass"], []),
    (
        "check_roles",
        "partly",
        ({**ROLES, "uploader": "both", "raw-data": "?"},),
        ["uploader is not both", "raw-data: not answered yet"],
        [],
    ),
    ("check_roles", "wrong", ({k: "consumer" for k in ROLES},), ["uploader is not consumer"], []),
    ("check_roles", "garbage", (["producer"],), ["should be a dict"], []),
    (
        "check_roles",
        "raising",
        (Exploding(ROLES),),
        ["RuntimeError", "boom from the learner's object"],
        [],
    ),
    # 01
    ("check_events_vs_commands", "right", (MESSAGES,), ["all checks pass"], []),
    (
        "check_events_vs_commands",
        "partly",
        ({**MESSAGES, "ScoreTransaction": "event"},),
        ["ScoreTransaction is not an event"],
        [],
    ),
    (
        "check_events_vs_commands",
        "wrong",
        ({k: "event" for k in MESSAGES},),
        ["is not an event"],
        [],
    ),
    ("check_events_vs_commands", "garbage", ("event",), ["should be a dict"], []),
    ("check_events_vs_commands", "raising", (Exploding(MESSAGES),), ["RuntimeError"], []),
    # 02
    (
        "check_second_group",
        "right",
        ({"group.id": "trending", "auto.offset.reset": "earliest"},),
        ["processed every page view"],
        [],
    ),
    (
        "check_second_group",
        "partly",
        ({"group.id": "trending"},),
        ["missed 200 of 478 page views", "before it joined", "(the default)"],
        [],
    ),
    (
        "check_second_group",
        "partly",
        ({"group.id": "trending", "auto.offset.reset": "none"},),
        ["_AUTO_OFFSET_RESET", "read nothing"],
        ["before it joined"],
    ),
    (
        "check_second_group",
        "wrong",
        ({"group.id": "recommender", "auto.offset.reset": "earliest"},),
        ["joined the 'recommender' group", "rebalanced when trending joined"],
        [],
    ),
    ("check_second_group", "garbage", (["trending"],), ["should be a dict"], []),
    (
        "check_second_group",
        "garbage",
        ({"group.id": "t", "auto.offset.reset": "oldest"},),
        ["refused these settings", "earliest"],
        [],
    ),
    ("check_second_group", "raising", (Exploding({"group.id": "t"}),), ["RuntimeError"], []),
    # 03a
    ("check_ordering_key", "right", ("user_id",), ["all 3 partitions get clicks"], []),
    (
        "check_ordering_key",
        "partly",
        ("region",),
        ["only 1 of 3 partitions", "too few distinct values"],
        [],
    ),
    ("check_ordering_key", "wrong", (None,), ["without a key", "out of order"], []),
    (
        "check_ordering_key",
        "garbage",
        ("name",),
        ["'name' is not a field of a click", "user_id, region"],
        [],
    ),
    # 03b
    ("check_reorder_window", "right", (1.5,), ["no tap came too late"], []),
    ("check_reorder_window", "partly", (3.0,), ["over the 2 s budget"], []),
    ("check_reorder_window", "wrong", (0.25,), ["came after the window had closed"], []),
    ("check_reorder_window", "garbage", ("2",), ["should be a number of seconds"], []),
    ("check_reorder_window", "garbage", (0,), ["more than 0 s"], []),
    # 04
    ("check_group_sizing", "right", (6, 50), ["each of the 6 workers owns a partition"], []),
    ("check_group_sizing", "partly", (6, 100), ["2 s of the 2 s", "keep a batch within 1 s"], []),
    ("check_group_sizing", "partly", (8, 50), ["2 of 8 workers sat idle"], []),
    ("check_group_sizing", "wrong", (12, 500), ["workers were evicted", "falls behind"], []),
    ("check_group_sizing", "garbage", ("6", 50), ["instances should be a whole number"], []),
    # 04 (b)
    (
        "check_static_deploy",
        "right",
        (lambda name: {"group.instance.id": name, "session.timeout.ms": 75000},),
        ["no rebalance"],
        [],
    ),
    (
        "check_static_deploy",
        "partly",
        (lambda name: {"group.instance.id": name},),
        ["longer than the session (45 s)"],
        [],
    ),
    (
        "check_static_deploy",
        "partly",
        (lambda name: {"group.instance.id": "svc", "session.timeout.ms": 75000},),
        ["'svc' is used more than once"],
        [],
    ),
    (
        "check_static_deploy",
        "wrong",
        (lambda name: {"session.timeout.ms": 75000},),
        ["3 of 3 have none", "6 rebalances"],
        [],
    ),
    ("check_static_deploy", "garbage", ({"group.instance.id": "a"},), ["should be a function"], []),
    (
        "check_static_deploy",
        "garbage",
        (lambda name: {"instance.id": name},),
        ["No such configuration property"],
        [],
    ),
    (
        "check_static_deploy",
        "raising",
        (raising_config,),
        ["TypeError", "worker_config", "name.upper() + 1"],
        ["refused"],
    ),
    # 05
    ("check_idempotent_ledger", "right", ledger_case("by-id"), ["the ledger total is exact"], []),
    (
        "check_idempotent_ledger",
        "partly",
        ledger_case("by-payload"),
        ["real payment(s) were never posted", "same account and amount"],
        ["posted twice"],
    ),
    (
        "check_idempotent_ledger",
        "wrong",
        ledger_case("naive"),
        ["posted twice"],
        ["skipped", "never posted"],
    ),
    (
        "check_idempotent_ledger",
        "garbage",
        ledger_case("no-ctx"),
        ["should take 2 arguments (event, ctx)", "yours takes (event)"],
        ["ledger holds 0"],
    ),
    ("check_idempotent_ledger", "garbage", ("post", Counter()), ["should be a function"], []),
    (
        "check_idempotent_ledger",
        "raising",
        ledger_case("typo"),
        [
            "KeyError",
            "'acount'",
            'ledger[event.payload["acount"]]',
            "while handling PaymentCaptured evt-",
        ],
        ["same account and amount", "ledger holds 0"],
    ),
    # 05 (b): the poll loop under kills
    (
        "check_poll_loop",
        "right",
        (loop_case("right"), LOOP_CONFIG),
        ["all 30 records were handled despite the kills", "closed the consumer"],
        [],
    ),
    (
        "check_poll_loop",
        "right",
        (
            loop_case("store"),
            {
                "group.id": "ledger",
                "auto.offset.reset": "earliest",
                "enable.auto.offset.store": False,
                "auto.commit.interval.ms": 1000,
            },
        ),
        ["a kill repeated at most 4 record(s)"],
        [],
    ),
    (
        "check_poll_loop",
        "partly",
        (loop_case("commit-first"), LOOP_CONFIG),
        ["2 of 30 records were never handled", "died in between", "never before"],
        ["auto-commit"],
    ),
    (
        "check_poll_loop",
        "partly",
        (loop_case("errors-handled"), LOOP_CONFIG),
        ["5 error event(s) went to handle()"],
        ["never handled"],
    ),
    (
        "check_poll_loop",
        "partly",
        (loop_case("no-close"), LOOP_CONFIG),
        ["returned without closing its consumer"],
        [],
    ),
    (
        "check_poll_loop",
        "partly",
        (loop_case("forever"), LOOP_CONFIG),
        ["went on after running() returned False"],
        [],
    ),
    (
        "check_poll_loop",
        "wrong",
        (loop_case("auto"), {"group.id": "ledger", "auto.offset.reset": "earliest"}),
        ["auto-commit in librdkafka commits what poll() returned", "handle 8 records again"],
        [],
    ),
    (
        "check_poll_loop",
        "wrong",
        (loop_case("right"), {"group.id": "ledger", "enable.auto.commit": False}),
        ["30 of 30 records were never handled", "'latest' unless you set 'earliest' (notebook 02)"],
        ["died in between"],
    ),
    ("check_poll_loop", "garbage", ("run", LOOP_CONFIG), ["should be a function"], []),
    (
        "check_poll_loop",
        "garbage",
        (lambda consumer: None, LOOP_CONFIG),
        ["should take 4 arguments (consumer, topics, handle, running)"],
        [],
    ),
    (
        "check_poll_loop",
        "garbage",
        (loop_case("right"), {"group.id": "ledger", "auto.offset.reset": "oldest"}),
        ["the Consumer refused CONFIG", "valid values"],
        [],
    ),
    (
        "check_poll_loop",
        "raising",
        (loop_case("raise-on-error"), LOOP_CONFIG),
        [
            "raised KafkaException",
            "UNKNOWN_TOPIC_OR_PART",
            "raise kafka.KafkaException(msg.error())",
        ],
        ["never handled", "went to handle()"],
    ),
    (
        "check_poll_loop",
        "raising",
        (loop_case("commit-error"), LOOP_CONFIG),
        ["raised ValueError", "cannot commit an error event", "consumer.commit(message=msg"],
        [],
    ),
    # 06 durability
    (
        "check_topic_settings",
        "right",
        (PAYMENTS_OK, CLICKS_OK),
        ["no acknowledged payment was lost", "no click was refused"],
        [],
    ),
    (
        "check_topic_settings",
        "partly",
        ({**PAYMENTS_OK, "min.insync.replicas": 1}, CLICKS_OK),
        ["while one broker alone held them"],
        [],
    ),
    (
        "check_topic_settings",
        "wrong",
        (CLICKS_OK, PAYMENTS_OK),
        ["acknowledged and then lost", "were refused"],
        [],
    ),
    (
        "check_topic_settings",
        "garbage",
        ("all", None),
        ["payments should be a dict", "clickstream should be a dict"],
        [],
    ),
    ("check_topic_settings", "raising", (Exploding(PAYMENTS_OK), CLICKS_OK), ["RuntimeError"], []),
    # 07 transactions
    (
        "check_exact_payments",
        "right",
        (payments_handler(offsets_in_transaction=True, inbox=True),),
        ["whatever the crash point"],
        [],
    ),
    (
        "check_exact_payments",
        "partly",
        (payments_handler(offsets_in_transaction=True, inbox=False),),
        ["charged twice", "no payment is posted twice"],
        [],
    ),
    (
        "check_exact_payments",
        "wrong",
        (payments_handler(offsets_in_transaction=False, inbox=False),),
        ["payment pay-000 was charged twice after a crash before", "posted twice"],
        [],
    ),
    ("check_exact_payments", "garbage", ("process",), ["should be a function"], []),
    (
        "check_exact_payments",
        "raising",
        (payments_handler(offsets_in_transaction=False, inbox=False, transaction=False),),
        ["raised KafkaException", "_STATE", "producer.produce("],
        [],
    ),
    # 08 retries
    (
        "check_retry_policy",
        "right",
        (Retry(attempts=3, backoff=0.2, factor=2.0),),
        ["every flaky transaction was scored"],
        [],
    ),
    (
        "check_retry_policy",
        "partly",
        (Retry(attempts=3, backoff=0.2, permanent=()),),
        ["were tried 3 times", "ValueError belongs among the permanent errors"],
        [],
    ),
    (
        "check_retry_policy",
        "partly",
        (Retry(attempts=6, backoff=1.0, factor=2.0),),
        ["held its partition for 3.06 s, over the 2 s limit"],
        [],
    ),
    (
        "check_retry_policy",
        "wrong",
        (Retry(attempts=2),),
        ["were given up on", "fails 2 times"],
        [],
    ),
    ("check_retry_policy", "garbage", ("Retry(3)",), ["should be a Retry(...) policy"], []),
    # 07
    (
        "check_schema_evolution",
        "right",
        (v2_with_device(),),
        ["accepts v2 under FULL", "an old consumer reads a new event"],
        [],
    ),
    ("check_schema_evolution", "right", (json.dumps(v2_with_device()),), [], []),
    (
        "check_schema_evolution",
        "partly",
        (v2_with_device(required=True),),
        ["REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"],
        [],
    ),
    (
        "check_schema_evolution",
        "partly",
        (v2_with_device(type="integer"),),
        ["PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"],
        [],
    ),
    (
        "check_schema_evolution",
        "wrong",
        ({k: v for k, v in nb09.VIEW_V1.items() if k != "required"},),
        ["no 'device' property yet"],
        [],
    ),
    ("check_schema_evolution", "garbage", (42,), ["got int"], []),
    ("check_schema_evolution", "garbage", ("{nope",), ["not a valid JSON Schema"], []),
    # 08
    ("check_autoscaler_plan", "right", (PLAN,), ["no flapping", "gave instances back"], []),
    (
        "check_autoscaler_plan",
        "partly",
        ({**PLAN, "cooldown": 0},),
        ["a cooldown of 0 s lets the autoscaler decide again"],
        [],
    ),
    (
        "check_autoscaler_plan",
        "partly",
        ({**PLAN, "min_instances": 4},),
        ["min_instances 4 keeps them"],
        ["scale_in_lag"],
    ),
    (
        "check_autoscaler_plan",
        "partly",
        ({**PLAN, "min_instances": 1},),
        ["it flapped", "with min_instances 1 it scales in below the 2 instances"],
        [],
    ),
    (
        "check_autoscaler_plan",
        "wrong",
        (
            {
                "min_instances": 1,
                "max_instances": 12,
                "scale_out_lag": 400,
                "scale_in_lag": 20,
                "cooldown": 4,
            },
        ),
        ["more than the 6 partitions", "over the bound of 320"],
        [],
    ),
    ("check_autoscaler_plan", "garbage", ({"min_instances": 2},), ["plan lacks max_instances"], []),
    (
        "check_autoscaler_plan",
        "garbage",
        ({**PLAN, "scale_in_lag": 40},),
        ["refused this plan"],
        [],
    ),
    # 09
    (
        "check_trace_carried",
        "right",
        (enrich_case("emit"),),
        ["carries its order's correlation id"],
        [],
    ),
    (
        "check_trace_carried",
        "partly",
        (enrich_case("other-type"),),
        ["published OrderPlaced, not OrderEnriched"],
        [],
    ),
    ("check_trace_carried", "wrong", (enrich_case("scratch"),), ["start a trace of their own"], []),
    ("check_trace_carried", "garbage", (enrich_case("one-arg"),), ["should take 2 arguments"], []),
    (
        "check_trace_carried",
        "raising",
        (enrich_case("wrong-emit"),),
        [
            "TypeError",
            "missing 1 required positional argument: 'payload'",
            'ctx.emit("OrderEnriched"',
            "while handling OrderPlaced",
        ],
        ["0 OrderEnriched", "0 events"],
    ),
    # 11 state
    (
        "check_velocity",
        "right",
        ({"size": 60, "step": 10, "lateness": 20, "grace": 5},),
        ["is flagged"],
        [],
    ),
    (
        "check_velocity",
        "partly",
        ({"size": 60, "step": 10, "lateness": 0, "grace": 0},),
        ["went to velocity.late"],
        [],
    ),
    (
        "check_velocity",
        "wrong",
        ({"size": 600, "step": 60, "lateness": 0, "grace": 0},),
        ["ordinary cards are flagged too"],
        [],
    ),
    ("check_velocity", "garbage", ({"size": 60},), ["settings lacks step"], []),
    (
        "check_velocity",
        "raising",
        (Exploding({"size": 60, "step": 10, "lateness": 20, "grace": 5}),),
        ["RuntimeError"],
        [],
    ),
    # 13 recommendations
    ("check_recommender_settings", "right", (5, 120.0), ["(at least 0.4 needed)"], []),
    ("check_recommender_settings", "partly", (10, 120.0), ["does not fit on the page"], []),
    ("check_recommender_settings", "wrong", (8, 5.0), ["below 0.4", "a 5 s window links few"], []),
    ("check_recommender_settings", "garbage", ("5", 30.0), ["k should be a whole number"], []),
    # 11
    ("check_fraud_design", "right", (FRAUD,), ["the model beats the threshold rule"], []),
    ("check_fraud_design", "partly", ({**FRAUD, "dead_letters": {}},), ["dead"], []),
    (
        "check_fraud_design",
        "partly",
        (ONE_SERVICE_FRAUD,),
        [
            "features and scoring are not separate steps",
            "TransactionSubmitted -> FraudSuspected has no steps",
            "model monitoring is in the design",
            "there is a dead-letter path",
        ],
        ["the model beats the threshold rule"],
    ),
    (
        "check_fraud_design",
        "wrong",
        (
            {
                "events": {
                    "NewTransaction": fraud_event(
                        "payments-api", ["fraud-service"], "transactions"
                    ),
                    "CheckFraud": fraud_event("fraud-service", [], "fraud"),
                },
                "flow": ["NewTransaction", "CheckFraud"],
            },
        ),
        ["CheckFraud"],
        [],
    ),
    ("check_fraud_design", "garbage", ("a design",), [], []),
    # 12
    (
        "check_backtest_config",
        "right",
        (
            {
                "group.id": "backtest-v2",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            },
        ),
        ["read all 1865 transactions"],
        [],
    ),
    (
        "check_backtest_config",
        "partly",
        ({"group.id": "backtest-v2", "auto.offset.reset": "earliest"},),
        ["with enable.auto.commit on (the default)"],
        [],
    ),
    (
        "check_backtest_config",
        "wrong",
        ({"group.id": "fraud-scorer", "auto.offset.reset": "earliest"},),
        ["is the live scorer's group"],
        [],
    ),
    ("check_backtest_config", "garbage", (["backtest"],), ["should be a dict"], []),
    # 13
    ("check_broker_terms", "right", (TABLE_WORDS,), ["all checks pass"], []),
    (
        "check_broker_terms",
        "right",
        (
            {
                "Kinesis": {"partition": " Shards ", "offset": "Sequence-Number"},
                "Event Hubs": {"consumer group": "a consumer group"},
                "Pub/Sub": {
                    "consumer group": "the subscription",
                    "partition": "none (ordering keys)",
                },
                "Redis Streams": {"committed offset": "acknowledgement"},
            },
        ),
        [],
        [],
    ),
    (
        "check_broker_terms",
        "partly",
        ({**TABLE_WORDS, "Kinesis": {"partition": "partition", "offset": "sequence number"}},),
        ["Kinesis · partition is not 'partition'"],
        [],
    ),
    (
        "check_broker_terms",
        "wrong",
        ({b: {i: "topic" for i in ideas} for b, ideas in nb16.QUESTIONS.items()},),
        ["is not 'topic'"],
        [],
    ),
    ("check_broker_terms", "garbage", ("shard",), ["should be a dict"], []),
    # 99
    ("check_quiz", "right", (QUIZ,), ["all checks pass"], []),
    ("check_quiz", "partly", ({**QUIZ, 1: "a", 2: "c"},), ["1. not (a)", "(notebook 04)"], []),
    (
        "check_quiz",
        "wrong",
        (
            {
                1: "a",
                2: "a",
                3: "b",
                4: "a",
                5: "a",
                6: "a",
                7: "a",
                8: "a",
                9: "a",
                10: "a",
                11: "a",
            },
        ),
        ["not (a)"],
        [],
    ),
    ("check_quiz", "garbage", ("b",), ["should be a dict"], []),
    ("check_quiz", "raising", (Exploding(QUIZ),), ["RuntimeError"], []),
]


def _id(case):
    return f"{case[0]}-{case[1]}"


@pytest.fixture(scope="module")
def results():
    """Every case's feedback, run once."""
    return {i: check(c[0])(*c[2]) for i, c in enumerate(CASES)}


def test_every_check_has_every_kind_of_case():
    kinds = {}
    for name, kind, *_ in CASES:
        kinds.setdefault(name, set()).add(kind)
    assert set(kinds) == set(CHECKS)
    for name, seen in kinds.items():
        assert {"right", "partly", "wrong", "garbage"} <= seen, name


@pytest.mark.parametrize("index", range(len(CASES)), ids=[_id(c) for c in CASES])
def test_case(results, index):
    name, kind, _args, says, not_says = CASES[index]
    fb = results[index]
    fn = check(name)
    assert isinstance(fb, Feedback)
    text = str(fb)
    for s in says:
        assert s in text, f"{name} {kind}: {s!r} not in\n{text}"
    for s in not_says:
        assert s not in text, f"{name} {kind}: {s!r} wrongly in\n{text}"
    # a fixed list of items, whatever the answer
    assert [i.id for i in fb.items] == [i[0] for i in fn.items]
    assert fb.max_score == sum(i[1] for i in fn.items) > 0
    assert fb.exercise == fn.exercise
    data = json.loads(fb.to_json())
    assert data["score"] == fb.score and data["max_score"] == fb.max_score
    assert sum(i["score"] for i in data["items"]) == fb.score
    if kind == "right":
        assert fb.passed and fb.score == fb.max_score, text
        assert "stuck?" not in text
    else:
        assert not fb.passed and fb.score < fb.max_score, text
        assert "stuck?" in text and f"{name}.hint()" in text
    if kind == "partly":
        assert 0 < fb.score < fb.max_score, text
    if kind in ("garbage", "raising"):
        assert fb.score == 0 and fb.status in ("invalid", "error"), text
    if kind == "raising":
        assert fb.status == "error" and fb.error is not None, text


def test_a_wrong_answer_scores_less_than_a_partly_right_one(results):
    best_partly, worst_wrong = {}, {}
    for i, (name, kind, *_) in enumerate(CASES):
        if kind == "partly":
            best_partly[name] = min(best_partly.get(name, 10**9), results[i].score)
        if kind == "wrong":
            worst_wrong[name] = max(worst_wrong.get(name, -1), results[i].score)
    for name, wrong in worst_wrong.items():
        assert wrong < best_partly[name], name


def test_exercise_ids_are_unique_and_stable():
    ids = [check(n).exercise for n in CHECKS]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-z0-9-]+", i) for i in ids)


def test_the_learners_line_is_reported_for_an_error_in_their_handler(results):
    index = next(
        i for i, c in enumerate(CASES) if c[0] == "check_idempotent_ledger" and c[1] == "raising"
    )
    err = results[index].error
    assert err.type == "KeyError" and err.where == "post_payment"
    assert 'payload["acount"]' in err.code and err.line is not None
    assert err.event.startswith("PaymentCaptured evt-")


def test_hints_come_in_steps_and_end_with_the_worked_solution():
    fn = check("check_idempotent_ledger")
    first, second, last = (str(fn.hint(n)) for n in (1, 2, 3))
    assert first.startswith("hint 1 of 3") and "event.id" not in first  # a nudge, not the answer
    assert second.startswith("hint 2 of 3") and "event.id" in second
    assert last.startswith("hint 3 of 3") and "if event.id in seen" in last
    assert str(fn.hint(9)) == last
    assert "more: check_idempotent_ledger.hint(2)" in first


def test_the_poll_loop_hints_do_not_give_the_loop_before_the_last_steps():
    fn = check("check_poll_loop")
    first, second, last = (str(fn.hint(n)) for n in (1, 2, 3))
    assert "commit(message=msg" not in first and "enable.auto.commit" not in first
    assert "consumer.commit(message=msg, asynchronous=False)" in second
    assert last.startswith("hint 3 of 3") and "while running():" in last


# -- the notebooks' own exercise and solution cells -----------------------------------------

PRELUDE = """
import json
from collections import Counter
from eda_sim import kafka
from eda_sim.course.nb06.check import check_topic_settings
from eda_sim.course.nb07.check import check_exact_payments
from eda_sim.course.nb07.program import next_offsets
from eda_sim.services.retries import Retry
from eda_sim.course.nb05.check import check_idempotent_ledger
from eda_sim.course.nb05.check import check_poll_loop
from eda_sim.course.nb06.check import check_topic_settings
from eda_sim.course.nb14.check import check_fraud_design
from eda_sim.course.nb99.check import check_quiz


def event(producer, consumers, topic):
    return {"producer": producer, "consumers": consumers, "topic": topic}
"""


def _cells(tag):
    out = []
    for src in sorted((ROOT / "notebooks" / "src").glob("*.py")):
        for cell in re.split(r"(?m)^(?=# %%)", src.read_text(encoding="utf-8")):
            if cell.startswith(f'# %% tags=["{tag}"]'):
                out.append(pytest.param(cell.split("\n", 1)[1], id=f"{src.stem[:2]}-{len(out)}"))
    return out


def _run_cell(source):
    """Execute a cell after the prelude; return the value of its last expression (the check's result)."""
    tree = ast.parse(source)
    last = tree.body.pop()
    assert isinstance(last, ast.Expr), "an exercise cell ends with the call of its check"
    ns: dict = {}
    exec(compile(PRELUDE, "<prelude>", "exec"), ns)
    exec(compile(tree, "<cell>", "exec"), ns)
    return eval(compile(ast.Expression(last.value), "<cell>", "eval"), ns)


@pytest.mark.parametrize("source", _cells("exercise"))
def test_an_untouched_starter_scores_0_and_runs_nothing(source):
    fb = _run_cell(source)
    assert isinstance(fb, Feedback)
    assert fb.status == "not answered" and fb.score == 0, str(fb)
    assert all(i.state == "failed" and not i.detail for i in fb.items)
    assert "run the cell again" in str(fb)


@pytest.mark.parametrize("source", _cells("solution"))
def test_the_worked_solution_scores_full_marks(source):
    fb = _run_cell(source)
    assert fb.passed and fb.score == fb.max_score, str(fb)


def test_every_check_is_called_by_its_notebooks_exercise():
    text = "".join(p.values[0] for p in _cells("exercise"))
    for name, module in CHECKS.items():
        if list((ROOT / "notebooks" / "src").glob(f"{module[2:]}_*.py")):
            assert f"{name}(" in text, name


def test_a_bug_in_a_check_is_reported_as_the_check_failing_not_raised():
    from eda_sim.course import checker

    @checker("demo", "demo", items=[("positive", 1, "x is positive")])
    def check_demo(fb, x):
        fb.mark("positive", x > 0, "positive", "not positive")

    fb = check_demo(None)
    assert isinstance(fb, Feedback) and fb.status in ("invalid", "error") and fb.score == 0
    assert "raised TypeError" in str(fb) and fb.to_dict()["items"][0]["state"] == "failed"
