"""Client configuration: librdkafka's property names, defaults and checks.

The simulated clients accept the same dict keys as confluent-kafka (which are
librdkafka's), with the same defaults, so a learner's config moves to a real
cluster unchanged. A key the simulator does not know is an error that names it,
as librdkafka's ``No such configuration property`` does; a value of the wrong
shape is an error that says what was expected.
"""

from __future__ import annotations

import difflib

from eda_sim.core.errors import fail

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _bool(key, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise fail(
        "_INVALID_ARG",
        f'Invalid value for configuration property "{key}": expected true or false, got {value!r}',
    )


def int_value(low=None, high=None):
    """A whole number in librdkafka's range for the property (``low``..``high``)."""

    def check(key, value):
        try:
            if isinstance(value, bool):
                raise ValueError
            number = int(value)
            if isinstance(value, float) and number != value:
                raise ValueError
        except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
            raise fail(
                "_INVALID_ARG",
                f'Invalid value for configuration property "{key}": expected an integer'
                + (f" in {low}..{high}" if low is not None and high is not None else "")
                + f", got {value!r}",
            ) from None
        if (low is not None and number < low) or (high is not None and number > high):
            if high is None:
                raise fail(
                    "_INVALID_ARG", f'Configuration property "{key}" must be >= {low}, got {number}'
                )
            raise fail(
                "_INVALID_ARG",
                f'Configuration property "{key}" value {number} is outside allowed range {low}..{high}',
            )
        return number

    return check


def one_of(*choices):
    """A checker for a property that takes one of ``choices``."""

    def check(key, value):
        if value not in choices:
            raise fail(
                "_INVALID_ARG",
                f'Invalid value {value!r} for configuration property "{key}"; valid values: {", ".join(choices)}',
            )
        return value

    return check


def str_value(key, value):
    """Check a string property; return the value."""
    if not isinstance(value, str):
        raise fail(
            "_INVALID_ARG",
            f'Configuration property "{key}" expects a string, got {type(value).__name__}',
        )
    return value


def callable_value(key, value):
    """Check a callback property (None or a callable); return the value."""
    if value is not None and not callable(value):
        raise fail(
            "_INVALID_ARG",
            f'Configuration property "{key}" expects a callable, got {type(value).__name__}',
        )
    return value


def _acks(key, value):
    text = str(value)
    if text not in {"all", "-1", "0", "1"}:
        raise fail(
            "_INVALID_ARG", f'Invalid value {value!r} for "{key}"; valid values: all, -1, 0, 1'
        )
    return "all" if text == "-1" else text


def _strategy(key, value):
    names = [v.strip() for v in str(value).split(",") if v.strip()]
    valid = ("range", "roundrobin", "cooperative-sticky")
    for name in names:
        if name not in valid:
            raise fail(
                "_INVALID_ARG",
                f'Invalid value {name!r} for "{key}"; valid values: {", ".join(valid)}',
            )
    if not names:
        raise fail("_INVALID_ARG", f'"{key}" needs at least one of: {", ".join(valid)}')
    return names


_RESET = {
    "smallest": "earliest",
    "earliest": "earliest",
    "beginning": "earliest",
    "largest": "latest",
    "latest": "latest",
    "end": "latest",
    "error": "none",
    "none": "none",
}


def _reset(key, value):
    if value not in _RESET:
        raise fail(
            "_INVALID_ARG",
            f'Invalid value {value!r} for "{key}"; valid values: {", ".join(_RESET)}',
        )
    return _RESET[value]


_COMMON = {
    "bootstrap.servers": (None, str_value),
    "client.id": ("rdkafka", str_value),
    "error_cb": (None, callable_value),
    "debug": ("", str_value),
}

#: Consumer properties: key -> (default, checker). Defaults are librdkafka's.
CONSUMER = {
    **_COMMON,
    "group.id": (None, str_value),
    "enable.auto.commit": (True, _bool),
    "auto.commit.interval.ms": (5000, int_value(0, 86400000)),
    "enable.auto.offset.store": (True, _bool),
    "auto.offset.reset": ("latest", _reset),
    "session.timeout.ms": (45000, int_value(1, 3600000)),
    "heartbeat.interval.ms": (3000, int_value(1, 3600000)),
    "max.poll.interval.ms": (300000, int_value(1, 86400000)),
    "partition.assignment.strategy": ("range,roundrobin", _strategy),
    "on_commit": (None, callable_value),
    "isolation.level": ("read_committed", one_of("read_committed", "read_uncommitted")),
    # KIP-345 static membership and the KIP-848 protocol: see eda_sim.broker.group_consumer
    "group.instance.id": (None, str_value),
    "group.protocol": ("classic", one_of("classic", "consumer")),
    # librdkafka takes any name and the broker refuses one it does not offer; the simulator says so at once
    "group.remote.assignor": (None, one_of("uniform", "range")),
    # The local fetch queue (eda_sim.kafka.fetchqueue): librdkafka's names, ranges and defaults.
    "queued.min.messages": (100000, int_value(1, 10000000)),
    "queued.max.messages.kbytes": (65536, int_value(1, 2097151)),
    "fetch.message.max.bytes": (1048576, int_value(1, 1000000000)),
    "fetch.max.bytes": (52428800, int_value(0, 2147483135)),
    "fetch.min.bytes": (1, int_value(1, 100000000)),
    "fetch.wait.max.ms": (500, int_value(0, 300000)),
    # librdkafka >= 2.2: how long a partition found at its queue limits is not fetched (0: no pause)
    "fetch.queue.backoff.ms": (1000, int_value(0, 300000)),
    # librdkafka's statistics: a JSON document handed to stats_cb from poll every interval (0: off)
    "statistics.interval.ms": (0, int_value(0, 86400000)),
    "stats_cb": (None, callable_value),
}

#: Keys librdkafka refuses when ``group.protocol=consumer``: the broker owns them under KIP-848.
#: The messages are librdkafka 2.16's, word for word.
BROKER_SIDE_UNDER_CONSUMER = {
    "session.timeout.ms": "`session.timeout.ms` is not supported for `group.protocol=consumer` "
    "or share consumer. It is defined broker side",
    "heartbeat.interval.ms": "`heartbeat.interval.ms` is not supported for `group.protocol=consumer` "
    "or share consumer. It is defined broker side",
    "partition.assignment.strategy": "`partition.assignment.strategy` is not supported for "
    "`group.protocol=consumer`. Use `group.remote.assignor` instead",
}


def check_group_protocol(config: dict | None) -> None:
    """Refuse, as librdkafka does, client-side group settings a ``group.protocol=consumer`` member set."""
    if not config or config.get("group.protocol") != "consumer":
        return
    for key, message in BROKER_SIDE_UNDER_CONSUMER.items():
        if key in config:
            raise fail("_INVALID_ARG", f"Failed to create consumer: {message}")


#: Producer properties: key -> (default, checker). Defaults are librdkafka's.
PRODUCER = {
    **_COMMON,
    "acks": ("all", _acks),
    "enable.idempotence": (False, _bool),
    "linger.ms": (5, int_value(0, 900000)),
    "batch.num.messages": (10000, int_value(1, 1000000)),
    "batch.size": (1000000, int_value(1, 2147483647)),
    "partitioner": (
        "consistent_random",
        one_of("murmur2_random", "murmur2", "consistent_random", "consistent", "random"),
    ),
    "sticky.partitioning.linger.ms": (10, int_value(0, 900000)),
    "retries": (2147483647, int_value(0, 2147483647)),
    "retry.backoff.ms": (100, int_value(1, 300000)),
    "request.timeout.ms": (30000, int_value(1, 900000)),
    "message.timeout.ms": (300000, int_value(0, 2147483647)),
    "max.in.flight.requests.per.connection": (1000000, int_value(1, 1000000)),
    "message.max.bytes": (1000000, int_value(1000, 1000000000)),
    "compression.type": ("none", one_of("none", "gzip", "snappy", "lz4", "zstd")),
    "on_delivery": (None, callable_value),
    "transactional.id": (None, str_value),
    "transaction.timeout.ms": (60000, int_value(1000)),
}

#: AdminClient properties.
ADMIN = dict(_COMMON)

#: librdkafka aliases the simulator understands, mapped to the canonical key.
ALIASES = {
    "queue.buffering.max.ms": "linger.ms",
    "message.send.max.retries": "retries",
    "delivery.timeout.ms": "message.timeout.ms",
    "request.required.acks": "acks",
    "delivery.report.cb": "on_delivery",
    "max.in.flight": "max.in.flight.requests.per.connection",
    "max.partition.fetch.bytes": "fetch.message.max.bytes",
}


def resolve(config: dict | None, schema: dict, kind: str) -> dict:
    """Check ``config`` against ``schema`` and return it complete with defaults.

    Raises :class:`~eda_sim.core.errors.KafkaException` naming an unknown key (with
    the closest valid one) or a bad value.
    """
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise TypeError(
            f"{kind} config must be a dict of librdkafka properties, got {type(config).__name__}"
        )
    out = {
        key: (check(key, default) if default is not None else None)
        for key, (default, check) in schema.items()
    }
    for key, value in config.items():
        canonical = ALIASES.get(key, key)
        if canonical not in schema:
            near = difflib.get_close_matches(str(key), list(schema), n=1)
            hint = f' (did you mean "{near[0]}"?)' if near else ""
            raise fail(
                "_INVALID_ARG",
                f'No such configuration property: "{key}"{hint}; the simulated {kind} knows: '
                + ", ".join(sorted(schema)),
            )
        out[canonical] = schema[canonical][1](key, value)
    return out
