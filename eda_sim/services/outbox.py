"""The database half of exactly-once: a side-effect store with an idempotent inbox and a transactional outbox.

Kafka's transactions make read-process-write exact *inside Kafka*. A service
that also changes a database (posts a charge, updates an order) needs the
database's own transaction for that half. Two patterns do it, both here on a
real SQL database (``sqlite3`` from the standard library):

* **Idempotent inbox**: the id of every input event handled is inserted into
  an ``inbox`` table with a primary key, *in the same local transaction* as the
  state change. A redelivered event hits the key, the transaction rolls back,
  and nothing happens twice.
* **Transactional outbox**: the outgoing event is inserted into an ``outbox``
  table in that same local transaction, instead of being sent to Kafka from
  the handler. A *relay* reads the outbox in order, publishes each row, and
  marks it published. A crash between publishing and marking publishes the row
  again (at least once), so every outgoing event carries a stable ``event_id``
  by which downstream deduplicates.

Example::

    store = SideEffectStore()
    store.handle("pay-1", "acct-1", 12, inbox=True, outgoing=("posted", "acct-1", '{"id": "pay-1"}'))
    store.handle("pay-1", "acct-1", 12, inbox=True)   # False: a duplicate, nothing changed
    store.totals()                                     # {"acct-1": 12}
    sim = Simulation(seed=1)
    sim.create_topic("posted")
    relay = Relay(store, sim.producer())
    relay.publish()                                    # send what is unpublished, then mark it
"""

from __future__ import annotations

import sqlite3

_SCHEMA = """
CREATE TABLE charges (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_id TEXT NOT NULL,
    account TEXT NOT NULL,
    amount INTEGER NOT NULL
);
CREATE TABLE inbox (
    event_id TEXT PRIMARY KEY
);
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    key TEXT,
    value TEXT NOT NULL,
    published INTEGER NOT NULL DEFAULT 0
);
"""


class SideEffectStore:
    """A service's own database: the charges it made, its inbox of handled event ids, its outbox.

    ``path`` is a SQLite file, or ``":memory:"`` (the default) for one that
    lives as long as the object: a crashed service instance and its
    replacement share the store, as two processes share a database server.
    """

    def __init__(self, path: str = ":memory:"):
        if not isinstance(path, str) or not path:
            raise TypeError(f'path must be a SQLite file name or ":memory:", got {path!r}')
        self.path = path
        self.db = sqlite3.connect(
            path, isolation_level=None
        )  # transactions opened explicitly below
        self.db.executescript(_SCHEMA)
        self.refused = 0  # duplicates the inbox turned away

    def __repr__(self) -> str:
        return f"<SideEffectStore {self.path}: {self.count('charges')} charges, {self.count('outbox')} outbox rows>"

    def handle(
        self,
        event_id: str,
        account: str,
        amount: int,
        *,
        inbox: bool = False,
        outgoing: tuple | None = None,
    ) -> bool:
        """Charge ``amount`` to ``account`` for event ``event_id``, in one local transaction.

        With ``inbox`` the event id goes into the inbox in the same transaction,
        and an id already there makes the whole transaction roll back (returns
        False). ``outgoing`` is ``(topic, key, value)``: an event to publish,
        written to the outbox in the same transaction, with ``event_id`` as its
        id. Returns True when the charge was made.
        """
        if not isinstance(event_id, str) or not event_id:
            raise ValueError(f"event_id must be a non-empty string, got {event_id!r}")
        db = self.db
        db.execute("BEGIN")
        try:
            if inbox:
                try:
                    db.execute("INSERT INTO inbox (event_id) VALUES (?)", (event_id,))
                except sqlite3.IntegrityError:  # the primary key: this event was handled before
                    db.execute("ROLLBACK")
                    self.refused += 1
                    return False
            db.execute(
                "INSERT INTO charges (payment_id, account, amount) VALUES (?, ?, ?)",
                (event_id, account, amount),
            )
            if outgoing is not None:
                topic, key, value = outgoing
                db.execute(
                    "INSERT INTO outbox (event_id, topic, key, value) VALUES (?, ?, ?, ?)",
                    (event_id, topic, key, value),
                )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return True

    def count(self, table: str) -> int:
        """How many rows ``table`` (charges, inbox or outbox) holds."""
        if table not in ("charges", "inbox", "outbox"):
            raise ValueError(f"unknown table {table!r}; tables are: charges, inbox, outbox")
        return self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    def charges(self) -> list[tuple]:
        """Every charge made, in order: ``(payment_id, account, amount)``."""
        return self.db.execute(
            "SELECT payment_id, account, amount FROM charges ORDER BY seq"
        ).fetchall()

    def totals(self) -> dict:
        """Account -> total charged."""
        rows = self.db.execute(
            "SELECT account, SUM(amount) FROM charges GROUP BY account ORDER BY account"
        )
        return dict(rows.fetchall())

    def unpublished(self) -> list[tuple]:
        """Outbox rows not yet marked published, in order: ``(seq, event_id, topic, key, value)``."""
        return self.db.execute(
            "SELECT seq, event_id, topic, key, value FROM outbox WHERE published = 0 ORDER BY seq"
        ).fetchall()

    def mark_published(self, seqs) -> None:
        """Mark outbox rows published (the relay does this after the broker acknowledged them)."""
        self.db.executemany("UPDATE outbox SET published = 1 WHERE seq = ?", [(s,) for s in seqs])

    def table(self, name: str):
        """A table as a DataFrame, to look at."""
        import pandas as pd

        self.count(name)  # checks the name
        return pd.read_sql_query(f"SELECT * FROM {name}", self.db)


class Relay:
    """Publishes a store's outbox to Kafka at least once: produce, wait for the acks, then mark.

    ``producer`` is a confluent-kafka-shaped producer. Rows are sent in outbox
    order with the outbox's ``event_id`` in an ``event_id`` header, so a
    downstream consumer can deduplicate the copies a crash between publishing
    and marking sends again.
    """

    def __init__(self, store: SideEffectStore, producer):
        self.store = store
        self.producer = producer
        self.published = 0

    def send(self) -> list:
        """Produce every unpublished row and flush; return their outbox sequence numbers (not yet marked)."""
        rows = self.store.unpublished()
        for _seq, event_id, topic, key, value in rows:
            self.producer.produce(topic, key=key, value=value, headers={"event_id": event_id})
        if rows:
            self.producer.flush(10.0)
        self.published += len(rows)
        return [r[0] for r in rows]

    def publish(self) -> int:
        """Send and mark in one go; returns how many rows went out."""
        seqs = self.send()
        self.store.mark_published(seqs)
        return len(seqs)
