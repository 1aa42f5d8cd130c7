"""Events: immutable, timestamped facts with a stable JSON form.

An :class:`Event` says that something happened (``"OrderPlaced"``), when (virtual
seconds since :data:`SIM_EPOCH`), about what (``key``) and with which details
(``payload``). It cannot be changed after it is made; a retry that needs another
header makes a copy with :meth:`Event.with_headers`.

Example (copy into a notebook)::

    from eda_sim.services.events import Event, EventIds

    ids = EventIds("evt")                              # evt-000001, evt-000002, ...
    placed = Event.create("OrderPlaced", {"order_id": 7, "items": ["tea", "cake"]},
                          key="customer-3", time=1.25, id=ids.next())
    paid = Event.create("PaymentTaken", {"order_id": 7, "amount": 9.5},
                        key="customer-3", time=2.0, id=ids.next(),
                        correlation_id=placed.correlation_id, causation_id=placed.id)
    text = paid.to_json()
    assert Event.from_json(text) == paid
    retry = paid.with_headers({"retry.attempt": "1"})

Decisions worth knowing:

* ``payload`` is stored as a :class:`FrozenMap` (nested mappings become
  ``FrozenMap``, lists become tuples), so neither assignment nor mutation of a
  nested value is possible, and events are hashable. ``FrozenMap`` compares
  equal to the plain dict it was made from; ``payload.thaw()`` gives a plain,
  mutable deep copy.
* ``correlation_id``, ``causation_id`` and ``schema_version`` are fields of their
  own (typed, validated, top level in the JSON); ``headers`` holds any further
  string headers, such as those a retry adds.
* The JSON carries ``time`` as an ISO 8601 UTC timestamp to the millisecond
  (``"2026-01-01T00:00:01.250Z"``, nearest millisecond, for people) and
  ``sim_seconds``, the exact float, for an exact round trip. Reading JSON
  without ``sim_seconds`` takes the time from the ISO form (to the microsecond
  it gives).
* Ids are never random: :func:`make_event_id` / :class:`EventIds` number them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from eda_sim.core.clock import SIM_EPOCH

__all__ = [
    "SIM_EPOCH",
    "MAX_TIME",
    "Event",
    "EventIds",
    "FrozenMap",
    "from_iso",
    "make_event_id",
    "to_iso",
]

#: The latest virtual time an event may carry: 9999-12-31T23:59:59Z, the end of
#: what ``datetime`` can write.
MAX_TIME = (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - SIM_EPOCH).total_seconds()

_HEADER_FIELDS = ("correlation_id", "causation_id", "schema_version")
_JSON_KINDS = "str, int, float, bool, None, list or dict with str keys"


# --------------------------------------------------------------------------- time


def _millis(seconds: float) -> int:
    # Nearest millisecond: 1.005 s, stored as 1.00499999..., still shows as .005.
    return round(seconds * 1000)


def to_iso(seconds: float) -> str:
    """Virtual ``seconds`` as an ISO 8601 UTC timestamp to the nearest millisecond.

    ``to_iso(1.25) == "2026-01-01T00:00:01.250Z"``.
    """
    ms = _millis(seconds)
    at = SIM_EPOCH + timedelta(milliseconds=ms)
    return f"{at:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:Z|\+00:00)")


def _time_error(text: object, why: str = "") -> ValueError:
    return ValueError(
        "field 'time' must be an ISO 8601 UTC timestamp like "
        f"2026-01-01T00:00:01.250Z{why}, got {text!r}"
    )


def from_iso(text: str) -> float:
    """Virtual seconds for an ISO 8601 UTC timestamp (the inverse of :func:`to_iso`).

    Accepts ``YYYY-MM-DDTHH:MM:SS[.ffffff]`` ending in ``Z`` or ``+00:00``, not
    before :data:`SIM_EPOCH`; anything else raises ``ValueError``.
    """
    match = _ISO.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise _time_error(text)
    *parts, fraction = match.groups()
    try:
        at = datetime(*map(int, parts), tzinfo=UTC)
    except ValueError as exc:
        raise _time_error(text, f" ({exc})") from None
    if at < SIM_EPOCH:
        raise _time_error(text, ", not before the simulation's epoch")
    delta = at - SIM_EPOCH
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000
    micros += int((fraction or "0").ljust(6, "0"))
    return micros / 1_000_000


# ------------------------------------------------------------------ frozen values


def _where(path: str) -> str:
    return f" at {path}" if path else ""


def _check_text(value: str, what: str) -> str:
    if value.__class__ is not str:
        value = str.__str__(value)  # a str subclass (e.g. an enum) becomes a plain str
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            f"{what} must be valid Unicode text (UTF-8 encodable), got {value!r}"
        ) from None
    return value


def _freeze(value: Any, field: str, path: str) -> Any:
    """A read-only copy of a JSON-like value; raises naming ``field`` and ``path``."""
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        return _check_text(value, f"field {field!r} value{_where(path)}")
    if isinstance(value, int):
        return int(value) if value.__class__ is not int else value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(
                f"field {field!r} value{_where(path)} must be a finite number "
                f"(JSON has no NaN or Infinity), got {value!r}"
            )
        return float(value)
    if isinstance(value, FrozenMap):
        return value
    if isinstance(value, Mapping):
        return FrozenMap._build(value, field, path)
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(item, field, f"{path}[{i}]") for i, item in enumerate(value))
    raise TypeError(
        f"field {field!r} value{_where(path)} must be JSON-serialisable ({_JSON_KINDS}), "
        f"got {type(value).__name__}"
    )


def _thaw(value: Any) -> Any:
    if isinstance(value, FrozenMap):
        return {k: _thaw(v) for k, v in value._items.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


class FrozenMap(Mapping):
    """A read-only mapping with str keys and JSON-like values (nested ones frozen too).

    Made from any mapping; nested mappings become ``FrozenMap`` and lists become
    tuples, so nothing inside can be changed. It is hashable, and equal to any
    mapping with the same content (``FrozenMap({"a": [1]}) == {"a": [1]}``).
    ``thaw()`` returns a plain, mutable deep copy of dicts and lists.
    """

    __slots__ = ("_items", "_hash")

    def __init__(self, data: Mapping[str, Any] = (), /) -> None:
        source = dict(data) if not isinstance(data, Mapping) else data
        built = FrozenMap._build(source, "payload", "")
        object.__setattr__(self, "_items", built._items)
        object.__setattr__(self, "_hash", None)

    @classmethod
    def _build(cls, data: Mapping, field: str, path: str) -> FrozenMap:
        items = {}
        for key, value in data.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"field {field!r} keys must be str (JSON object keys are strings), "
                    f"got {type(key).__name__} {key!r}{_where(path)}"
                )
            key = _check_text(key, f"field {field!r} key{_where(path)}")
            items[key] = _freeze(value, field, f"{path}[{key!r}]")
        made = object.__new__(cls)
        object.__setattr__(made, "_items", items)
        object.__setattr__(made, "_hash", None)
        return made

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._items == other._items
        if isinstance(other, Mapping):
            return _thaw(self) == _thaw_any(other)
        return NotImplemented

    def __hash__(self) -> int:
        if self._hash is None:
            object.__setattr__(self, "_hash", hash(frozenset(self._items.items())))
        return self._hash

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"FrozenMap is read-only; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"FrozenMap is read-only; cannot delete {name!r}")

    def __reduce__(self):
        return (FrozenMap, (self.thaw(),))

    def __repr__(self) -> str:
        return f"FrozenMap({self._items!r})"

    def thaw(self) -> dict[str, Any]:
        """A plain, mutable deep copy: dicts and lists."""
        return _thaw(self)


def _thaw_any(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw_any(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_thaw_any(v) for v in value]
    return value


_EMPTY = FrozenMap()


# -------------------------------------------------------------------------- ids


def make_event_id(namespace: str, n: int) -> str:
    """The ``n``-th id in ``namespace``: ``make_event_id("evt", 42) == "evt-000042"``.

    Six digits keep ids sorting in numeric order up to 999,999; larger numbers
    simply get longer.
    """
    if not isinstance(namespace, str) or not namespace:
        raise TypeError(f"namespace must be a non-empty str, e.g. 'evt', got {namespace!r}")
    if type(n) is not int or n < 0:
        raise ValueError(f"n must be an int >= 0, got {n!r}")
    return f"{namespace}-{n:06d}"


class EventIds:
    """Numbers event ids in one namespace: ``evt-000001``, ``evt-000002``, ...

    Deterministic by construction: the same sequence of calls gives the same
    ids. Keep one per simulation (or per producer) rather than a global one.
    ``next(ids)`` works too.
    """

    __slots__ = ("namespace", "_next")

    def __init__(self, namespace: str = "evt", start: int = 1) -> None:
        make_event_id(namespace, start)  # validates both
        self.namespace = namespace
        self._next = start

    def next(self) -> str:
        """The next id, e.g. ``"evt-000001"``."""
        n = self._next
        self._next = n + 1
        return make_event_id(self.namespace, n)

    __next__ = next

    def __iter__(self) -> EventIds:
        return self

    def __repr__(self) -> str:
        return f"EventIds({self.namespace!r}, next={self._next})"


# ------------------------------------------------------------------------ Event


def _text(value: Any, field: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    expected = "a non-empty str or None" if optional else "a non-empty str"
    if not isinstance(value, str):
        raise TypeError(f"field {field!r} must be {expected}, got {type(value).__name__} {value!r}")
    if not value.strip():
        raise ValueError(f"field {field!r} must be {expected}, got {value!r}")
    return _check_text(value, f"field {field!r}")


def _freeze_headers(headers: Any) -> FrozenMap:
    if isinstance(headers, FrozenMap) and not headers:
        return headers
    if not isinstance(headers, Mapping):
        raise TypeError(
            f"field 'headers' must be a mapping of str to str, got {type(headers).__name__}"
        )
    for name, value in headers.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"field 'headers' names must be non-empty str, got {name!r}")
        if name in _HEADER_FIELDS:
            raise ValueError(
                f"header {name!r} is a field of Event, not a free header; set it with "
                f"Event.create(..., {name}=...) or dataclasses.replace(event, {name}=...)"
            )
        if not isinstance(value, str):
            raise TypeError(
                f"field 'headers' value for {name!r} must be a str, got "
                f"{type(value).__name__} {value!r}"
            )
    return headers if isinstance(headers, FrozenMap) else FrozenMap._build(headers, "headers", "")


@dataclass(frozen=True, slots=True)
class Event:
    """An immutable fact: ``type`` happened to ``key`` at virtual ``time``, with ``payload``.

    Fields:

    * ``id`` - unique id, e.g. ``"evt-000042"`` (see :class:`EventIds`).
    * ``type`` - what happened, named as a fact (``"OrderPlaced"``).
    * ``key`` - the entity it is about (the Kafka record key), or ``None``.
    * ``payload`` - details: a :class:`FrozenMap` of JSON-like values.
    * ``time`` - virtual seconds since :data:`SIM_EPOCH` (finite, ``>= 0``).
    * ``headers`` - further str -> str headers (e.g. added by retries).
    * ``correlation_id`` - the id of the root event of this conversation; ``None``
      given means the event is a root and its own correlation (it becomes ``id``).
    * ``causation_id`` - the id of the event that caused this one, ``None`` for a root.
    * ``schema_version`` - the payload's schema version, an int ``>= 1``.

    Bad values raise ``TypeError`` (wrong type) or ``ValueError`` (wrong value)
    naming the field.
    """

    id: str
    type: str
    key: str | None
    payload: Mapping[str, Any]
    time: float
    headers: Mapping[str, str] = _EMPTY
    correlation_id: str | None = None
    causation_id: str | None = None
    schema_version: int = 1

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "id", _text(self.id, "id"))
        put(self, "type", _text(self.type, "type"))
        key = self.key
        if key is not None:
            if not isinstance(key, str):
                raise TypeError(
                    f"field 'key' must be a str or None, got {type(key).__name__} {key!r}"
                )
            put(self, "key", _check_text(key, "field 'key'"))
        payload = self.payload
        if not isinstance(payload, FrozenMap):
            if not isinstance(payload, Mapping):
                raise TypeError(
                    f"field 'payload' must be a mapping (dict) with str keys, "
                    f"got {type(payload).__name__}"
                )
            put(self, "payload", FrozenMap._build(payload, "payload", ""))
        t = self.time
        if isinstance(t, bool) or not isinstance(t, (int, float)):
            raise TypeError(
                f"field 'time' must be a number of virtual seconds since SIM_EPOCH, "
                f"got {type(t).__name__} {t!r}"
            )
        if not (math.isfinite(t) and 0 <= t <= MAX_TIME):
            raise ValueError(
                f"field 'time' must be a finite number of seconds in [0, {MAX_TIME:.0f}], got {t!r}"
            )
        put(self, "time", float(t) + 0.0)  # + 0.0 turns -0.0 into 0.0
        put(self, "headers", _freeze_headers(self.headers))
        correlation = _text(self.correlation_id, "correlation_id", optional=True)
        put(self, "correlation_id", correlation or self.id)
        put(self, "causation_id", _text(self.causation_id, "causation_id", optional=True))
        version = self.schema_version
        if type(version) is not int:
            raise TypeError(f"field 'schema_version' must be an int >= 1, got {version!r}")
        if version < 1:
            raise ValueError(f"field 'schema_version' must be an int >= 1, got {version!r}")

    @classmethod
    def create(
        cls,
        type: str,
        payload: Mapping[str, Any],
        *,
        id: str,
        key: str | None = None,
        time: float = 0.0,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        schema_version: int = 1,
        headers: Mapping[str, str] | None = None,
    ) -> Event:
        """Make an event; ``id`` is required (see :class:`EventIds`), never random.

        A missing ``correlation_id`` makes this a root event, its own correlation.
        """
        return cls(
            id=id,
            type=type,
            key=key,
            payload=payload,
            time=time,
            headers=_EMPTY if headers is None else headers,
            correlation_id=correlation_id,
            causation_id=causation_id,
            schema_version=schema_version,
        )

    @property
    def key_bytes(self) -> bytes | None:
        """The key as the bytes a partitioner hashes (UTF-8), or ``None``."""
        return None if self.key is None else self.key.encode("utf-8")

    @property
    def iso_time(self) -> str:
        """``time`` as an ISO 8601 UTC timestamp to the millisecond."""
        return to_iso(self.time)

    def with_headers(self, headers: Mapping[str, str] | None = None, /, **extra: str) -> Event:
        """A copy with headers added (or replaced): ``e.with_headers({"retry.attempt": "2"})``.

        Names that are not identifiers go in the mapping; keyword names work too.
        """
        merged = dict(self.headers)
        if headers is not None:
            if not isinstance(headers, Mapping):
                raise TypeError(
                    f"with_headers takes a mapping of str to str, got {type(headers).__name__}"
                )
            merged.update(headers)
        merged.update(extra)
        return dataclasses.replace(self, headers=merged)

    # ------------------------------------------------------------------ JSON

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready dict (the same fields as :meth:`to_json`)."""
        return {
            "id": self.id,
            "type": self.type,
            "key": self.key,
            "time": to_iso(self.time),
            "sim_seconds": self.time,
            "payload": self.payload.thaw(),
            "headers": dict(self.headers),
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "schema_version": self.schema_version,
        }

    def to_json(self) -> str:
        """Compact JSON with sorted keys; equal events give identical text.

        ``time`` is ISO 8601 UTC to the millisecond; ``sim_seconds`` is exact.
        Non-ASCII text is written as is (encode the result as UTF-8).
        """
        return json.dumps(
            self.to_dict(),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        """The event a :meth:`to_dict` result describes; ``ValueError`` names what is wrong.

        Required: ``id``, ``type``, ``time``, ``payload``. Optional: ``key``
        (None), ``sim_seconds``, ``headers`` ({}), ``correlation_id`` (the id),
        ``causation_id`` (None), ``schema_version`` (1).
        """
        try:
            return cls._from_dict(data)
        except RecursionError:
            raise ValueError(
                "event is nested too deeply to read (more levels than Python's recursion limit)"
            ) from None

    @classmethod
    def _from_dict(cls, data: Mapping[str, Any]) -> Event:
        if not isinstance(data, Mapping):
            raise ValueError(f"event JSON must be an object, got {type(data).__name__}")
        for name in _REQUIRED:
            if name not in data:
                raise ValueError(f"event JSON is missing field {name!r}")
        unknown = sorted(set(data) - set(_JSON_FIELDS), key=str)
        if unknown:
            raise ValueError(
                f"event JSON has unknown field {unknown[0]!r}; "
                f"expected fields: {', '.join(_JSON_FIELDS)}"
            )
        time = from_iso(data["time"])
        if "sim_seconds" in data:
            exact = data["sim_seconds"]
            if isinstance(exact, bool) or not isinstance(exact, (int, float)):
                raise ValueError(
                    f"field 'sim_seconds' must be a number of virtual seconds, got {exact!r}"
                )
            if not math.isfinite(exact) or _millis(exact) != _millis(time):
                raise ValueError(
                    f"field 'sim_seconds' ({exact!r}) disagrees with field 'time' "
                    f"({data['time']!r}); they must name the same instant to the millisecond"
                )
            time = exact
        payload = data["payload"]
        if not isinstance(payload, Mapping):
            raise ValueError(f"field 'payload' must be an object, got {type(payload).__name__}")
        headers = data.get("headers", {})
        if not isinstance(headers, Mapping):
            raise ValueError(f"field 'headers' must be an object, got {type(headers).__name__}")
        try:
            return cls(
                id=data["id"],
                type=data["type"],
                key=data.get("key"),
                payload=payload,
                time=time,
                headers=headers,
                correlation_id=data.get("correlation_id"),
                causation_id=data.get("causation_id"),
                schema_version=data.get("schema_version", 1),
            )
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    @classmethod
    def from_json(cls, text: str | bytes) -> Event:
        """The event :meth:`to_json` wrote; ``ValueError`` names what is wrong.

        Well-formed input as :meth:`to_json` writes it takes a fast path; any
        input that path does not recognise is read by the full, strict one
        (:meth:`_from_json_strict`), so errors and results are the same.
        """
        if cls is Event:
            event = _fast_from_json(text)
            if event is not None:
                return event
        return cls._from_json_strict(text)

    @classmethod
    def _from_json_strict(cls, text: str | bytes) -> Event:
        """:meth:`from_json` without the fast path: every check, every error message."""
        if not isinstance(text, (str, bytes, bytearray)):
            raise ValueError(f"event JSON must be str or bytes, got {type(text).__name__}")
        try:
            data = json.loads(text, parse_constant=_reject_constant)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"event JSON is not valid JSON: {exc}") from None
        except RecursionError:
            # json's decoder recurses once per level: 100,000 '[' exhaust the stack. Malformed
            # input must come back as ValueError, as documented, not stop whoever decodes it.
            raise ValueError(
                "event JSON is nested too deeply to read (more levels than Python's recursion limit)"
            ) from None
        except MemoryError:
            raise ValueError(f"event JSON is too large to read ({len(text)} characters)") from None
        return cls.from_dict(data)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"event JSON is not valid JSON: {name} is not a JSON number")


_REQUIRED = ("id", "type", "time", "payload")
_JSON_FIELDS = (
    "id",
    "type",
    "key",
    "time",
    "sim_seconds",
    "payload",
    "headers",
    "correlation_id",
    "causation_id",
    "schema_version",
)


# ------------------------------------------------------------ fast decoding
#
# Services decode every record they consume; the strict path above spends most
# of its time on checks that well-formed input passes. The fast path accepts
# only input it can prove the strict path would accept (and then builds the
# same event); anything else - an odd type, a missing or extra field, a time
# not in canonical form, an escape that could hide a lone surrogate - returns
# None and the strict path decides, with its own error messages.

_scan = json.JSONDecoder(parse_constant=_reject_constant).scan_once
_FIELD_SET = frozenset(_JSON_FIELDS)
_make = object.__new__
_put = object.__setattr__
_str, _int, _float, _dict, _list, _bool = str, int, float, dict, list, bool


def _canonical_iso(ms: int) -> str:
    """``to_iso`` for a whole number of milliseconds in [0, MAX_TIME * 1000], the second cached."""
    global _iso_second, _iso_prefix
    second, milli = divmod(ms, 1000)
    if second != _iso_second:
        _iso_prefix = f"{SIM_EPOCH + timedelta(seconds=second):%Y-%m-%dT%H:%M:%S}."
        _iso_second = second
    return _iso_prefix + _MILLI_TEXT[milli]


_iso_second, _iso_prefix = -1, ""
_MILLI_TEXT = tuple(f"{i:03d}Z" for i in range(1000))


def _fast_value(value: Any) -> Any:
    """The frozen form of a parsed JSON value, or raise (the caller falls back)."""
    cls = value.__class__
    if cls is _str or cls is _int or cls is _bool or value is None:
        return value
    if cls is _float:
        if value - value != 0.0:  # inf or nan
            raise ValueError
        return value
    if cls is _dict:
        for k, v in value.items():
            if v.__class__ is not _str:
                value[k] = _fast_value(v)
        made = _make(FrozenMap)
        _put(made, "_items", value)
        _put(made, "_hash", None)
        return made
    if cls is _list:
        return tuple([_fast_value(v) for v in value])
    raise TypeError


def _blank(text: Any) -> bool:
    """True unless ``text`` is a str with something besides whitespace (as ``_text`` wants)."""
    return text.__class__ is not _str or not text or text.isspace()


# The canonical form to_json writes: sorted keys, no spaces. Strings in the
# envelope are matched only when they hold no quote, backslash or control
# character, so the matched text is the string JSON would decode.
_S = r'"([^"\\\x00-\x1f]*)"'
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_HEAD = re.compile(
    r'\{"causation_id":(?:null|'
    + _S
    + r'),"correlation_id":'
    + _S
    + r',"headers":\{\},"id":'
    + _S
    + r',"key":(?:null|'
    + _S
    + r'),"payload":(?=\{)'
)
_TAIL = re.compile(
    r',"schema_version":([1-9][0-9]{0,17}),"sim_seconds":((?:0|[1-9][0-9]{0,17})(\.[0-9]+)?([eE][-+]?[0-9]+)?)'
    r',"time":"([^"]*)","type":' + _S + r"\}"
)


def _fast_from_json(text: Any) -> Event | None:
    """The event for well-formed JSON as :meth:`Event.to_json` writes it, or None to fall back."""
    cls = text.__class__
    if cls is bytes:
        try:
            text = text.decode("utf-8")  # strict: no lone surrogates can come from the bytes
        except UnicodeDecodeError:
            return None
    elif cls is _str:
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return None
    else:
        return None
    if "\\u" in text and _SURROGATE_ESCAPE.search(
        text
    ):  # maybe a lone surrogate: the strict path checks
        return None
    try:
        head = _HEAD.match(text)
        if head is not None:
            return _from_canonical(text, head)
        return _from_parsed(text)
    except (
        ValueError,
        TypeError,
        RecursionError,
    ):  # a parse problem: the strict path says what it is
        return None


_TYPE_NAMES: dict = {}


def _from_canonical(text: str, head) -> Event | None:
    payload, end = _scan(text, head.end())
    tail = _TAIL.match(text, end)
    if tail is None or tail.end() != len(text):
        return _from_parsed(text)
    causation, correlation, eid, key = head.groups()
    version, seconds, fraction, exponent, iso, etype = tail.groups()
    # Share strings rather than keep a copy per event: a flow has a handful of types, and a root
    # event's correlation id is its own id. Spans and inboxes keep these for every event.
    etype = _TYPE_NAMES.setdefault(etype, etype) if len(_TYPE_NAMES) < 4096 else etype
    if correlation == eid:
        correlation = eid
    if (
        not eid
        or not etype
        or not correlation
        or eid.isspace()
        or etype.isspace()
        or correlation.isspace()
    ):
        return None
    if causation is not None and (not causation or causation.isspace()):
        return None
    exact = float(seconds) if fraction or exponent else float(int(seconds))
    if not exact <= MAX_TIME:
        return None
    second, milli = divmod(round(exact * 1000), 1000)
    if second != _iso_second:
        _canonical_iso(second * 1000)
    if iso != _iso_prefix + _MILLI_TEXT[milli]:
        return None
    for k, v in payload.items():
        cls = v.__class__
        if cls is not _str and cls is not _int:
            payload[k] = _fast_value(v)
    items = payload
    payload = _make(FrozenMap)
    _put(payload, "_items", items)
    _put(payload, "_hash", None)
    event = _make(Event)
    _put(event, "id", eid)
    _put(event, "type", etype)
    _put(event, "key", key)
    _put(event, "payload", payload)
    _put(event, "time", exact + 0.0)
    _put(event, "headers", _EMPTY)
    _put(event, "correlation_id", correlation)
    _put(event, "causation_id", causation)
    _put(event, "schema_version", 1 if version == "1" else int(version))
    return event


def _event(eid, etype, key, payload, time, headers, correlation, causation, version) -> Event:
    event = _make(Event)
    _put(event, "id", eid)
    _put(event, "type", etype)
    _put(event, "key", key)
    _put(event, "payload", payload)
    _put(event, "time", time)
    _put(event, "headers", headers)
    _put(event, "correlation_id", correlation)
    _put(event, "causation_id", causation)
    _put(event, "schema_version", version)
    return event


def _from_parsed(text: str) -> Event | None:
    try:
        data, end = _scan(text, 0)
    except StopIteration:
        return None
    if end != len(text) or data.__class__ is not _dict:
        return None
    get = data.get
    if len(data) == 10:
        if data.keys() != _FIELD_SET:
            return None
    elif not (
        _FIELD_SET.issuperset(data) and "id" in data and "type" in data and "payload" in data
    ):
        return None
    eid = get("id")
    etype = get("type")
    if _blank(eid) or _blank(etype):
        return None
    key = get("key")
    if key is not None and key.__class__ is not _str:
        return None
    correlation = get("correlation_id")
    if correlation is None:
        correlation = eid
    elif _blank(correlation):
        return None
    causation = get("causation_id")
    if causation is not None and _blank(causation):
        return None
    version = get("schema_version", 1)
    if version.__class__ is not _int or version < 1:
        return None
    # time: trust sim_seconds when the ISO form is exactly what to_iso writes for it
    exact = get("sim_seconds")
    tcls = exact.__class__
    if tcls is _float:
        if not 0.0 <= exact <= MAX_TIME:  # also false for nan
            return None
    elif tcls is _int:
        if not 0 <= exact <= MAX_TIME:
            return None
        exact = float(exact)
    else:
        return None
    iso = get("time")
    if iso.__class__ is not _str or iso != _canonical_iso(round(exact * 1000)):
        return None
    payload = data["payload"]
    headers = get("headers")
    if payload.__class__ is not _dict:
        return None
    if headers is None:
        if "headers" in data:
            return None
        headers = _EMPTY
    elif headers.__class__ is not _dict:
        return None
    elif headers:
        for name, value in headers.items():
            if not name or name in _HEADER_FIELDS or value.__class__ is not _str:
                return None
        made = _make(FrozenMap)
        _put(made, "_items", headers)
        _put(made, "_hash", None)
        headers = made
    else:
        headers = _EMPTY
    return _event(
        eid, etype, key, _fast_value(payload), exact + 0.0, headers, correlation, causation, version
    )
