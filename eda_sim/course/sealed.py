"""Answer keys a student bundle can use but not read: salted hashes and texts locked by the answer.

A check that runs the learner's code needs no key. A check that compares a
choice with a key (00's roles, 01's events and commands, 16's broker words, the
recap quiz) does; in the student bundle that key is *sealed*: each right answer
is kept as ``sha256(salt, place, answer)``, and a text that would give the
answer away is encrypted with a key derived from the answer that unlocks it. A
check compares with ``==`` or ``in`` as before, and a sealed value answers the
comparison without holding the answer.

What sealing does not hide: a check the learner can run is an oracle. With
three options a learner can try each; that is what a self-check is for. A
graded class grades with the instructor's unsealed package (nbgrader's
autograde, or ``python -m eda_sim.course grade``), never with the student's.

Example::

    truth = Sealed.of("event", salt="s", place="nb01/UserViewedProduct")
    "event" == truth, "command" == truth     # (True, False), and str(truth) shows no answer
"""

from __future__ import annotations

import base64
import hashlib
import json


def _digest(salt: str, place: str, value: str) -> str:
    return hashlib.sha256(f"{salt}\x00{place}\x00{value}".encode()).hexdigest()


def _stream(key: str, n: int) -> bytes:
    out, counter = b"", 0
    while len(out) < n:
        out += hashlib.sha256(f"{key}\x00{counter}".encode()).digest()
        counter += 1
    return out[:n]


def lock(text: str, key: str) -> str:
    """Encrypt ``text`` with a keystream from ``key`` (SHA-256 in counter mode); base64 out."""
    raw = text.encode()
    return base64.b64encode(bytes(a ^ b for a, b in zip(raw, _stream(key, len(raw))))).decode()


def unlock(blob: str, key: str) -> str | None:
    """The text :func:`lock` sealed with ``key``, or None when the key is wrong."""
    raw = base64.b64decode(blob)
    try:
        return bytes(a ^ b for a, b in zip(raw, _stream(key, len(raw)))).decode()
    except UnicodeDecodeError:
        return None


class Sealed:
    """A right answer kept as a salted hash: equal to the answer, printable only once matched."""

    def __init__(self, digest: str, salt: str, place: str):
        self.digest, self.salt, self.place = digest, salt, place
        self._seen = None  # the answer, once a comparison has shown it (the learner typed it)

    @classmethod
    def of(cls, value: str, salt: str, place: str) -> Sealed:
        """Seal ``value`` (compared as ``str``)."""
        return cls(_digest(salt, place, str(value)), salt, place)

    def __eq__(self, other) -> bool:
        if isinstance(other, Sealed):
            return self.digest == other.digest
        if _digest(self.salt, self.place, str(other)) == self.digest:
            self._seen = str(other)
            return True
        return False

    def __hash__(self) -> int:
        return hash(self.digest)

    def __str__(self) -> str:
        return self._seen if self._seen is not None else "(sealed)"

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


class SealedSet:
    """A set of accepted answers kept as salted hashes; ``x in s`` works, iteration does not."""

    def __init__(self, digests, salt: str, place: str):
        self.digests, self.salt, self.place = frozenset(digests), salt, place

    @classmethod
    def of(cls, values, salt: str, place: str) -> SealedSet:
        """Seal every value of ``values``."""
        return cls((_digest(salt, place, str(v)) for v in values), salt, place)

    def __contains__(self, value) -> bool:
        return _digest(self.salt, self.place, str(value)) in self.digests

    def __repr__(self) -> str:
        return f"SealedSet({len(self.digests)} answers)"


class SealedTexts:
    """Texts by answer (a wrong option's explanation), each readable only with its own answer.

    Every option has an entry, so which options have one says nothing.
    """

    def __init__(self, blobs: dict, salt: str, place: str):
        self.blobs, self.salt, self.place = dict(blobs), salt, place

    @classmethod
    def of(cls, texts: dict, options, salt: str, place: str) -> SealedTexts:
        """Seal ``texts`` (option -> text); options without a text get a neutral one."""
        blobs = {}
        for option in options:
            text = texts.get(option, "that is the answer")
            blobs[_digest(salt, place + "/name", str(option))] = lock(
                text, _digest(salt, place + "/key", str(option))
            )
        return cls(blobs, salt, place)

    def __getitem__(self, option):
        blob = self.blobs.get(_digest(self.salt, self.place + "/name", str(option)))
        if blob is None:
            raise KeyError(option)
        return unlock(blob, _digest(self.salt, self.place + "/key", str(option)))

    def __contains__(self, option) -> bool:
        return _digest(self.salt, self.place + "/name", str(option)) in self.blobs

    def get(self, option, default=None):
        """The text for ``option``, or ``default``."""
        try:
            return self[option]
        except KeyError:
            return default


# ----------------------------------------------------------------------------- to and from JSON


def dump(value) -> object:
    """A JSON-ready form of a structure holding sealed values (tuples and sets kept)."""
    if isinstance(value, Sealed):
        return {"~": "sealed", "d": value.digest, "s": value.salt, "p": value.place}
    if isinstance(value, SealedSet):
        return {"~": "set", "d": sorted(value.digests), "s": value.salt, "p": value.place}
    if isinstance(value, SealedTexts):
        return {"~": "texts", "b": value.blobs, "s": value.salt, "p": value.place}
    if isinstance(value, dict):
        return {"~": "dict", "items": [[dump(k), dump(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"~": "tuple", "items": [dump(v) for v in value]}
    if isinstance(value, list):
        return [dump(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return {"~": "plainset", "items": sorted(dump(v) for v in value)}
    return value


def load(data) -> object:
    """The structure :func:`dump` wrote."""
    if isinstance(data, list):
        return [load(v) for v in data]
    if not isinstance(data, dict):
        return data
    kind = data["~"]
    if kind == "sealed":
        return Sealed(data["d"], data["s"], data["p"])
    if kind == "set":
        return SealedSet(data["d"], data["s"], data["p"])
    if kind == "texts":
        return SealedTexts(data["b"], data["s"], data["p"])
    if kind == "dict":
        return {load(k): load(v) for k, v in data["items"]}
    if kind == "tuple":
        return tuple(load(v) for v in data["items"])
    if kind == "plainset":
        return {load(v) for v in data["items"]}
    raise ValueError(f"unknown sealed kind {kind!r}")


def loads(text: str) -> object:
    """:func:`load` from a JSON string."""
    return load(json.loads(text))


def dumps(value) -> str:
    """:func:`dump` to a JSON string (keys sorted, so a release is the same run after run)."""
    return json.dumps(dump(value), sort_keys=True)
