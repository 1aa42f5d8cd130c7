"""The benchmark script runs end to end and accounts for every record (its figures are not asserted)."""

import pytest

from eda_sim import bench


def test_bench_prints_every_line_and_processes_every_record(capsys):
    assert bench.main(["--records", "3000", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    for line in (
        "8 bare deques",
        "simulator, journal on",
        "simulator, journal off",
        "3 brokers, replication 3, journal on",
        "plain consumer of the same events",
        "service: retry + inbox + spans",
        "of the plain consumer of the same events",
        "peak memory per retained record",
    ):
        assert line in out
    assert "3,000 spans" in out  # one span per event: the service handled all of them


@pytest.mark.parametrize("start", [bench.plain_event_consumer, bench.counting_service])
def test_both_event_lines_handle_each_event_once(start):
    _, sim, handled = bench.simulated(2000, journal=True, service=start)
    assert handled == 2000


def test_bench_refuses_nonsense_arguments():
    with pytest.raises(SystemExit):
        bench.main(["--records", "0"])


def test_replicated_line_processes_every_record_and_every_follower_holds_them():
    _, sim, processed = bench.simulated(2000, journal=True, brokers=3)
    assert processed == 2000
    logs = sim.cluster.describe("bench")
    assert logs.groupby("partition").log_end.nunique().eq(1).all()  # all three replicas agree
    assert logs.log_end.sum() == 3 * 2000
