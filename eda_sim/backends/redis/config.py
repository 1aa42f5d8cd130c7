"""The Redis clients' configuration: librdkafka's properties plus the few this backend adds (``redis.*``, ``socket.timeout.ms``)."""

from __future__ import annotations

from eda_sim.core.errors import fail
from eda_sim.kafka import config as _config

# ----------------------------------------------------------------------------- config


_EXTRA_COMMON = {"socket.timeout.ms": (2000, _config.int_value(1))}
CONSUMER_SCHEMA = {
    **_config.CONSUMER,
    **_EXTRA_COMMON,
    "group.instance.id": (None, _config.str_value),
    "redis.claim.idle.ms": (30000, _config.int_value(0)),
    "redis.partition.ownership": ("leased", _config.one_of("leased", "shared")),
}
PRODUCER_SCHEMA = {**_config.PRODUCER, **_EXTRA_COMMON}


def resolve_config(config, schema: dict, kind: str) -> dict:
    if config is not None and isinstance(config, dict):
        for key in config:
            if _config.ALIASES.get(key, key) not in schema:
                import difflib

                near = difflib.get_close_matches(str(key), list(schema), n=1)
                hint = f' (did you mean "{near[0]}"?)' if near else ""
                raise fail(
                    "_INVALID_ARG",
                    f'No such configuration property: "{key}"{hint}; the Redis-backed '
                    f"{kind} knows: " + ", ".join(sorted(schema)),
                )
    return _config.resolve(config, schema, kind)
