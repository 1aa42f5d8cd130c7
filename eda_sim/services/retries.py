"""Retries with backoff, dead-letter topics, and re-driving dead letters.

A handler can fail for two kinds of reasons. A *transient* failure (a timeout,
a service briefly down) may succeed if tried again a little later; a
*permanent* one (a malformed event, a bug the event triggers) will fail every
time. A service with a :class:`Retry` policy tries a failing event again after
an exponentially growing backoff on the virtual clock; after the last attempt,
or at once for a permanent error, the event goes to a dead-letter topic and the
partition moves on, so one poison event does not block the events behind it.

A dead letter keeps the original key, value, headers and timestamp and adds
headers saying where it came from and why, with the names Spring Kafka uses::

    kafka_dlt-original-topic, kafka_dlt-original-partition, kafka_dlt-original-offset,
    kafka_dlt-original-timestamp, kafka_dlt-original-consumer-group,
    kafka_dlt-exception-fqcn, kafka_dlt-exception-message, and dlt-attempts

Example::

    sim = Simulation(seed=1)
    sim.create_topic("transactions", partitions=2)
    Source(sim, "api", "transactions", [{"time": 0.1, "type": "TransactionSubmitted", "amount": None}])

    def score(event, ctx):
        if event.payload["amount"] is None:
            raise TransientError("the feature store timed out")

    svc = Service(sim, "scorer", consumes=["transactions"], handlers={"TransactionSubmitted": score},
                  retry=Retry(attempts=4, backoff=0.5, factor=2.0))
    sim.run(until=60)
    dead_letters(sim, "transactions.DLT")      # a table: origin, error, attempts
    redrive(sim, "transactions.DLT")           # after the fix: send them back
"""

from __future__ import annotations

from dataclasses import dataclass

from eda_sim.core.checks import count, number, seconds
from eda_sim.core.errors import KafkaException


class TransientError(Exception):
    """Raise from a handler for a failure that may pass if tried again."""


class PermanentError(Exception):
    """Raise from a handler for a failure no retry can fix; the event is dead-lettered at once."""


@dataclass(frozen=True)
class Retry:
    """Bounded retries with exponential backoff: ``backoff * factor ** (attempt - 1)``, capped.

    ``attempts`` counts every try, the first included. Exceptions listed in
    ``permanent`` (and :class:`PermanentError`) skip the retries.
    """

    attempts: int = 3
    backoff: float = 0.1
    factor: float = 2.0
    max_backoff: float = 30.0
    permanent: tuple = (PermanentError, ValueError, KeyError, TypeError)

    def __post_init__(self):
        count(self.attempts, "Retry.attempts", low=1)  # tries, the first included
        seconds(self.backoff, "Retry.backoff")
        seconds(self.max_backoff, "Retry.max_backoff")
        number(self.factor, "Retry.factor", low=1, what="a finite growth factor")

    def delay(self, attempt: int) -> float:
        """The wait after failed try number ``attempt`` (1-based)."""
        return min(self.backoff * self.factor ** (attempt - 1), self.max_backoff)

    def is_permanent(self, error: BaseException) -> bool:
        """Whether ``error`` should skip the remaining retries."""
        return isinstance(error, self.permanent) and not isinstance(error, TransientError)


#: No retries: a failing event is dead-lettered after its first try.
NO_RETRY = Retry(attempts=1)

DLT_SUFFIX = ".DLT"
H_TOPIC = "kafka_dlt-original-topic"
H_PARTITION = "kafka_dlt-original-partition"
H_OFFSET = "kafka_dlt-original-offset"
H_TIMESTAMP = "kafka_dlt-original-timestamp"
H_GROUP = "kafka_dlt-original-consumer-group"
H_EXCEPTION = "kafka_dlt-exception-fqcn"
H_MESSAGE = "kafka_dlt-exception-message"
H_ATTEMPTS = "dlt-attempts"
#: Set (with the original size) when a dead letter had to go without its value: too large.
H_VALUE_DROPPED = "dlt-value-dropped"
_DLT_HEADERS = {
    H_TOPIC,
    H_PARTITION,
    H_OFFSET,
    H_TIMESTAMP,
    H_GROUP,
    H_EXCEPTION,
    H_MESSAGE,
    H_ATTEMPTS,
}


def dlt_topic(sim, topic: str, name: str | None = None) -> str:
    """The dead-letter topic for ``topic`` (``<topic>.DLT`` unless named), created like it if missing."""
    name = name or topic + DLT_SUFFIX
    if name not in sim.broker.topics:
        sim.create_topic(name, partitions=sim.topic(topic).partition_count)
    return name


def dead_letter_headers(
    topic: str,
    partition: int,
    offset,
    timestamp_ms: int,
    group: str,
    error_type: type,
    message: str,
    attempts: int,
) -> list[tuple[str, str]]:
    """The headers every dead letter carries: where it came from and why it failed.

    The one place that builds them, for the simulator and the Redis backend alike
    (Spring's ``kafka_dlt-*`` names, plus ``dlt-attempts``). ``offset`` is the
    record's offset (a Redis entry id on Redis); the message is cut at 500
    characters.
    """
    return [
        (H_TOPIC, topic),
        (H_PARTITION, str(partition)),
        (H_OFFSET, str(offset)),
        (H_TIMESTAMP, str(timestamp_ms)),
        (H_GROUP, group),
        (H_EXCEPTION, f"{error_type.__module__}.{error_type.__qualname__}"),
        (H_MESSAGE, message[:500]),
        (H_ATTEMPTS, str(attempts)),
    ]


def dead_letter(
    sim,
    producer,
    message,
    error: BaseException,
    attempts: int,
    group: str,
    topic_name: str | None = None,
) -> str:
    """Send ``message`` to its dead-letter topic with origin and cause headers; return the topic."""
    target = dlt_topic(sim, message.topic(), topic_name)
    exc = type(error)
    headers = list(message.headers() or [])
    headers += dead_letter_headers(
        message.topic(),
        message.partition(),
        message.offset(),
        message.timestamp()[1],
        group,
        exc,
        str(error),
        attempts,
    )
    partition = (
        message.partition() if message.partition() < sim.topic(target).partition_count else -1
    )
    try:
        producer.produce(
            target,
            value=message.value(),
            key=message.key(),
            headers=headers,
            partition=partition,
            timestamp=message.timestamp()[1],
        )
    except KafkaException as err:
        if err.error.name() != "MSG_SIZE_TOO_LARGE":
            raise
        # The record and its dead-letter headers together exceed message.max.bytes: park it
        # without its value (the original stays in its topic at the offset the headers name).
        size = len(message.value() or b"")
        headers.append((H_VALUE_DROPPED, f"{size} bytes: too large to dead-letter whole"))
        producer.produce(
            target,
            value=None,
            key=message.key(),
            headers=headers,
            partition=partition,
            timestamp=message.timestamp()[1],
        )
    sim.journal.write(
        "dead_lettered",
        producer.name,
        group,
        message.topic(),
        message.partition(),
        message.offset(),
        1,
        f"{exc.__name__}: {error} after {attempts} attempt(s) -> {target}",
    )
    return target


def _header(headers, name: str):
    for k, v in headers or ():
        if k == name:
            return v.decode(errors="replace") if isinstance(v, bytes) else v
    return None


def dead_letters(sim, topic: str):
    """The dead letters in ``topic`` as a DataFrame: where each came from and why."""
    import pandas as pd

    logs = sim.topic(topic).partitions
    if not is_dead_letter_topic(sim, topic):
        known = ", ".join(t for t in sorted(sim.broker.topics) if is_dead_letter_topic(sim, t))
        raise ValueError(
            f"{topic!r} is not a dead-letter topic: its records carry no {H_TOPIC} header. "
            f"Dead-letter topics are named <topic>{DLT_SUFFIX} (or by Service(dead_letter=...)); "
            f"here: {known or 'none yet'}"
        )
    rows = []
    for log in logs:
        for r in log.records():
            h = r.headers
            fqcn = _header(h, H_EXCEPTION)
            rows.append(
                {
                    "dlt_offset": r.offset,
                    "original_topic": _header(h, H_TOPIC),
                    "original_partition": _int_or_none(_header(h, H_PARTITION)),
                    "original_offset": _int_or_none(_header(h, H_OFFSET)),
                    "group": _header(h, H_GROUP),
                    "error": fqcn.rsplit(".", 1)[-1] if fqcn else None,
                    "message": _header(h, H_MESSAGE),
                    "attempts": _int_or_none(_header(h, H_ATTEMPTS)),
                    "key": r.key.decode(errors="replace") if r.key is not None else None,
                    "value": _short(r.value),
                }
            )
    cols = [
        "original_topic",
        "original_partition",
        "original_offset",
        "group",
        "error",
        "message",
        "attempts",
        "key",
        "value",
        "dlt_offset",
    ]
    frame = pd.DataFrame(rows, columns=cols)
    return frame.sort_values(
        ["original_topic", "original_partition", "original_offset"], kind="stable"
    ).reset_index(drop=True)


def is_dead_letter_topic(sim, topic: str) -> bool:
    """True for ``<topic>.DLT``, a service's named dead-letter topic, or a topic of dead letters."""
    if topic.endswith(DLT_SUFFIX) or any(
        s.dead_letter == topic for s in sim.services.values() if isinstance(s.dead_letter, str)
    ):
        return True
    records = [r for log in sim.topic(topic).partitions for r in log.records()]
    return bool(records) and all(_header(r.headers, H_TOPIC) is not None for r in records)


def _int_or_none(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None  # a record someone else wrote into the dead-letter topic, without its headers


def _short(value: bytes | None, limit: int = 60) -> str | None:
    if value is None:
        return None
    text = value.decode(errors="replace")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def redrive(sim, topic: str, *, fix=None, group: str | None = None) -> int:
    """Send the dead letters in ``topic`` back to where they came from; return how many went.

    Each dead letter is produced again to its original topic with its key,
    value (passed through ``fix(value_bytes) -> bytes`` if given) and original
    headers (the dead-letter headers are dropped). The re-drive remembers how
    far it got in a consumer group of its own (``<topic>.redrive``), so running
    it twice sends nothing twice. An empty dead-letter topic is a no-op that
    returns 0.
    """
    sim.topic(topic)
    group = group or f"{topic}.redrive"
    consumer = sim.consumer(
        {
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "client.id": group,
        }
    )
    consumer.subscribe([topic])
    producer = (
        sim.producer({"client.id": group}) if group not in sim.producers else sim.producers[group]
    )
    sent = 0
    while True:
        batch = consumer.consume(500, timeout=0.001)
        batch = [m for m in batch if m.error() is None]
        if not batch:
            break
        for m in batch:
            original = _header(m.headers(), H_TOPIC)
            value = m.value() if fix is None else fix(m.value())
            headers = [(k, v) for k, v in (m.headers() or []) if k not in _DLT_HEADERS]
            producer.produce(original, value=value, key=m.key(), headers=headers or None)
            sent += 1
        consumer.commit(asynchronous=False)
    consumer.close()
    producer.flush()
    if sent:
        sim.journal.write(
            "redriven", group, "", topic, -1, -1, sent, "dead letters sent back to their topics"
        )
    return sent
