"""Reaching a Redis server: the URL (from the argument or ``EDA_REDIS_URL``), the client, and its errors as Kafka's."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from eda_sim.backends.redis.server import ENV_URL
from eda_sim.core.errors import KafkaException, fail

# ----------------------------------------------------------------------------- URLs and connections


def safe_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, fit for an error message."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def resolve_url(url: str | None = None) -> str:
    """``url``, else ``$EDA_REDIS_URL``; a ``KafkaException`` says what is expected when neither is usable."""
    if url is None or (isinstance(url, str) and not url.strip()):
        url = os.environ.get(ENV_URL, "").strip() or None
    if url is None:
        raise fail(
            "_INVALID_ARG",
            f'no Redis server given: set "bootstrap.servers" to a redis://host:port/db URL '
            f"or the environment variable {ENV_URL}",
        )
    if not isinstance(url, str):
        raise fail(
            "_INVALID_ARG",
            f"a Redis URL must be a str like redis://host:port/db, got {type(url).__name__}",
        )
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in ("redis", "rediss", "unix"):
        raise fail(
            "_INVALID_ARG",
            f"bootstrap.servers must be a Redis URL (redis://, rediss:// or unix://), "
            f"got {safe_url(url)!r}",
        )
    return url


def transport_error(url: str, err: BaseException, doing: str = "reach") -> KafkaException:
    return fail(
        "_TRANSPORT", f"cannot {doing} Redis at {safe_url(url)}: {type(err).__name__}: {err}"
    )


def connect(url: str | None = None, timeout_ms: int = 2000):
    """A ``redis.Redis`` client for ``url`` that has answered ``PING``.

    Connecting and every reply are bounded by ``timeout_ms``; there are no
    hidden retries, so an unreachable server gives a ``KafkaException``
    (``_TRANSPORT``) naming the URL within about that time.
    """
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry as _RedisRetry

    url = resolve_url(url)
    seconds = timeout_ms / 1000.0
    try:
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=seconds,
            socket_timeout=seconds,
            retry=_RedisRetry(NoBackoff(), 0),
            decode_responses=False,
        )
        client.ping()
    except redis.RedisError as err:
        raise transport_error(url, err) from None
    except (OSError, ValueError) as err:
        raise transport_error(url, err) from None
    return client


def reachable(url: str | None = None, timeout_ms: int = 500) -> bool:
    """Whether a Redis server answers at ``url`` (or ``$EDA_REDIS_URL``) within ``timeout_ms``; never raises."""
    try:
        connect(url, timeout_ms).close()
    except KafkaException:
        return False
    return True


def redis_errors():
    import redis

    return redis.RedisError


def connection_errors():
    import redis

    return (redis.ConnectionError, redis.TimeoutError)


def client_for(url_or_client, timeout_ms: int = 2000):
    if url_or_client is None or isinstance(url_or_client, str):
        url = resolve_url(url_or_client)
        return connect(url, timeout_ms), url
    return url_or_client, getattr(url_or_client, "_eda_url", "the given Redis client")
