"""Rate limits: a token bucket on the virtual clock.

A :class:`TokenBucket` lets ``burst`` records through at once and ``rate`` per
second after that, so a producer that sends through it cannot outrun the rate
it was given; the surplus waits at the producer, not at the broker.

Example::

    bucket = TokenBucket(rate=5, burst=10)
    bucket.take(0.0)          # 0.0: a token is there; wait 0 s
"""

from __future__ import annotations

from eda_sim.core.checks import number
from eda_sim.core.checks import positive as _positive


class TokenBucket:
    """A token bucket on the virtual clock: ``burst`` tokens at most, refilled at ``rate`` per second.

    ``take(now)`` takes a token and returns how many seconds to wait before
    using it: 0 when one is there, else until the refill brings it. The token
    is reserved at once (the bucket may go into debt), so callers queue up in
    order and, over any stretch of time ``T``, at most ``burst + rate * T``
    tokens are used. In a process::

        wait = bucket.take(env.now)
        if wait:
            yield env.timeout(wait)
        producer.produce(...)

    The bucket starts full. ``now`` must not go backwards.
    """

    def __init__(self, rate: float, burst: float = 1):
        self.rate = _positive(rate, "rate", "a number of tokens per second")
        self.burst = _positive(burst, "burst", "a number of tokens")
        self._tokens = self.burst
        self._at = None  # time of the last take

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate:g}, burst={self.burst:g})"

    def _refill(self, now) -> float:
        number(now, "now", low=0, what="a virtual time in seconds")
        if self._at is not None and now < self._at:
            raise ValueError(
                f"now={now!r} is before the last take at {self._at!r}: the clock only moves forward"
            )
        tokens = self._tokens
        if self._at is not None:
            tokens = min(self.burst, tokens + (now - self._at) * self.rate)
        return tokens

    def tokens(self, now: float) -> float:
        """Tokens available at ``now`` (negative: that many are owed to callers already waiting)."""
        return self._refill(now)

    def take(self, now: float, n: float = 1) -> float:
        """Take ``n`` tokens at ``now``; return the seconds to wait before using them (0 if none)."""
        n = _positive(n, "n", "a number of tokens")
        if n > self.burst:
            raise ValueError(
                f"cannot take {n:g} tokens at once from a bucket that holds {self.burst:g} (burst)"
            )
        tokens = self._refill(now)
        self._at = float(now)
        self._tokens = tokens - n
        return 0.0 if tokens >= n else (n - tokens) / self.rate

    def try_take(self, now: float, n: float = 1) -> bool:
        """Take ``n`` tokens only if they are there now; True if taken (nothing is reserved otherwise)."""
        n = _positive(n, "n", "a number of tokens")
        tokens = self._refill(now)
        self._at = float(now)
        if tokens >= n:
            self._tokens = tokens - n
            return True
        self._tokens = tokens
        return False
