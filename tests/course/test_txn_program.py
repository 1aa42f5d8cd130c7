"""The transactional program uses only confluent-kafka's names, and runs unchanged on the simulator.

The conformance suite (tests/test_conformance.py, program ``transactions``) runs
the same loop with confluent-kafka against a real Kafka-protocol broker.
"""

import ast
import inspect

import pytest

from eda_sim import Simulation, kafka
from eda_sim.course.nb07 import exactly_once
from eda_sim.course.nb07 import program as txn_program

ck = pytest.importorskip("confluent_kafka")

#: The variable names the programs give each client object, and the confluent-kafka class it must match.
ROLES = {
    "kafka": ck,
    "producer": ck.Producer,
    "consumer": ck.Consumer,
    "m": ck.Message,
    "message": ck.Message,
}


def attributes_used(module):
    """(variable, attribute) for every ``variable.attribute`` in the module's source."""
    tree = ast.parse(inspect.getsource(module))
    return sorted(
        {
            (node.value.id, node.attr)
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        }
    )


@pytest.mark.parametrize("module", [txn_program, exactly_once], ids=lambda m: m.__name__)
def test_every_client_name_the_programs_use_exists_in_confluent_kafka(module):
    used = [(var, attr) for var, attr in attributes_used(module) if var in ROLES]
    assert used, "the scan found no client calls"
    missing = [f"{var}.{attr}" for var, attr in used if not hasattr(ROLES[var], attr)]
    assert missing == []


def test_error_methods_the_loop_calls_exist_on_confluent_kafkas_error():
    source = inspect.getsource(txn_program)
    for method in ("txn_requires_abort", "error"):
        assert f".{method}()" in source
    assert hasattr(ck.KafkaError, "txn_requires_abort")


def test_the_transactional_methods_take_confluent_kafkas_arguments():
    """Positional shapes as confluent-kafka documents them (its C methods carry no signature)."""
    p_doc = {
        name: getattr(ck.Producer, name).__doc__
        for name in (
            "init_transactions",
            "send_offsets_to_transaction",
            "commit_transaction",
            "abort_transaction",
        )
    }
    assert (
        "send_offsets_to_transaction(positions, group_metadata, [timeout])"
        in p_doc["send_offsets_to_transaction"]
    )
    ours = inspect.signature(kafka.Producer.send_offsets_to_transaction)
    assert list(ours.parameters)[1:] == ["positions", "group_metadata", "timeout"]
    for name in ("init_transactions", "commit_transaction", "abort_transaction"):
        assert "[timeout]" in p_doc[name]
        assert list(inspect.signature(getattr(kafka.Producer, name)).parameters)[1:] == ["timeout"]
    assert list(inspect.signature(kafka.Consumer.consumer_group_metadata).parameters) == ["self"]


def test_the_same_program_text_runs_on_the_simulator_module():
    sim = Simulation(seed=2, name="program-text")
    sim.create_topic("numbers", partitions=1)
    sim.create_topic("doubled", partitions=1)
    feeder = kafka.Producer({"bootstrap.servers": sim.bootstrap_servers})
    for i in range(6):
        feeder.produce("numbers", value=str(i))
    feeder.flush()
    consumer, producer = txn_program.open_clients(
        kafka, sim.bootstrap_servers, group="doubler", transactional_id="doubler-0"
    )
    steps = list(
        txn_program.transactional_loop(kafka, consumer, producer, source="numbers", sink="doubled")
    )
    assert steps.count("committed") == 2
    values = [int(v) for v in sim.records("doubled")["value"]]
    assert values == [0, 2, 4, 6, 8, 10]
    assert list(sim.records("doubled")["offset"]) == [0, 1, 2, 3, 5, 6]  # markers at 4 and 7
