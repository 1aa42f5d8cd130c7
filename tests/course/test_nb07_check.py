"""The transactions notebook's exercise check: right, partly right, wrong, garbage and raising answers."""

import json

from eda_sim import kafka
from eda_sim.course.nb07.check import check_exact_payments
from eda_sim.course.nb07.program import next_offsets


def handler(*, offsets_in_transaction, inbox, transaction=True):
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


def test_right_answer_passes():
    fb = check_exact_payments(handler(offsets_in_transaction=True, inbox=True))
    assert fb.passed and "all checks pass" in str(fb)


def test_the_template_names_a_double_charged_and_a_double_posted_payment():
    text = str(check_exact_payments(handler(offsets_in_transaction=False, inbox=False)))
    assert "payment pay-000 was charged twice after a crash before" in text
    assert "posted twice" in text and "stuck?" in text


def test_partly_right_transactions_without_the_inbox_still_double_charge():
    fb = check_exact_payments(handler(offsets_in_transaction=True, inbox=False))
    text = str(fb)
    assert not fb.passed and "charged twice" in text
    assert "no payment is posted twice" in text


def test_partly_right_the_inbox_without_offsets_in_the_transaction_posts_twice():
    fb = check_exact_payments(handler(offsets_in_transaction=False, inbox=True))
    text = str(fb)
    assert not fb.passed and "posted twice" in text and "no payment is charged twice" in text


def test_wrong_producing_outside_a_transaction_is_reported_not_raised():
    fb = check_exact_payments(handler(offsets_in_transaction=False, inbox=False, transaction=False))
    assert not fb.passed and "raised KafkaException" in str(fb) and "_STATE" in str(fb)


def test_a_lossy_answer_names_the_payment_never_charged():
    def commit_first(messages, consumer, producer, store):
        consumer.commit(asynchronous=False)
        producer.begin_transaction()
        for m in messages:
            pay = json.loads(m.value())
            store.handle(pay["id"], pay["account"], pay["amount"], inbox=True)
            producer.produce("posted", key=pay["account"], value=json.dumps({"id": pay["id"]}))
        producer.commit_transaction()

    text = str(check_exact_payments(commit_first))
    assert "was never charged after a crash before" in text and "never posted" in text


def test_garbage_and_raising_answers():
    assert "should be a function" in str(check_exact_payments("process"))

    def raising(messages, consumer, producer, store):
        raise ZeroDivisionError("my bug")

    text = str(check_exact_payments(raising))
    assert "raised ZeroDivisionError: my bug" in text


def test_a_handler_that_does_nothing_is_told_so():
    fb = check_exact_payments(lambda messages, consumer, producer, store: None)
    assert not fb.passed and "never charged" in str(fb) and "made no call" in str(fb)
