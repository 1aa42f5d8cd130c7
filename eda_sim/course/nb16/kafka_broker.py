"""Notebook 16's Kafka section: one confluent-kafka program on the simulator and on a real Kafka-protocol broker.

The programs are the conformance suite's (:mod:`eda_sim.testing.conformance`),
written once against confluent-kafka's API. :func:`side_by_side` runs one on a
fresh simulation and, when confluent-kafka and the Tansu broker are installed
(``pip install -r requirements-test.txt``), on a Tansu broker started on
loopback for the call; without them it says what the real run would show.

Example::

    from eda_sim.course.nb16.kafka_broker import side_by_side

    side_by_side("commit_and_resume")["same"]   # True with Tansu installed, None without
"""

from __future__ import annotations

from eda_sim.backends.tansu import INSTALL_HINT, TansuBroker, installed
from eda_sim.testing.conformance import (
    KAFKA_EXPECTED,
    PROGRAMS,
    TANSU_DEVIATIONS,
    run_real,
    run_simulated,
)


def side_by_side(program: str) -> dict:
    """What ``program`` observes on the simulator and on a real broker, and whether they agree.

    Returns ``simulator`` and ``real broker`` (None when none is installed),
    ``same`` (None without a broker), ``where`` (which broker ran it, or how to
    get one) and, where Tansu departs from Kafka for this program, ``tansu
    differs from kafka`` and ``kafka documents``.
    """
    if program not in PROGRAMS:
        raise ValueError(f"unknown program {program!r}; programs: {', '.join(PROGRAMS)}")
    out = {"simulator": run_simulated(program), "real broker": None, "same": None}
    if not installed():
        out["where"] = (
            "no Kafka-protocol broker here: with one, the same program runs with confluent-kafka against "
            f"a Tansu broker on loopback and the two observations are compared ({INSTALL_HINT})"
        )
    else:
        with TansuBroker() as broker:
            got = run_real(broker.bootstrap_servers, [program])[program]
        if isinstance(got, Exception):
            raise got
        out["real broker"] = got
        out["same"] = got == out["simulator"]
        out["where"] = f"confluent-kafka against Tansu on {broker.bootstrap_servers}"
    if program in TANSU_DEVIATIONS:
        out["tansu differs from kafka"] = TANSU_DEVIATIONS[program][1]
        out["kafka documents"] = KAFKA_EXPECTED[program]
    return out
