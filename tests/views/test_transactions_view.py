"""The transactions board: one cell per offset, the LSO and the log end marked."""

from eda_sim import Simulation
from eda_sim.views.transactions import draw_transactions


def test_the_board_marks_the_lso_and_the_log_end_and_labels_the_markers():
    sim = Simulation(seed=1, name="txn-view")
    sim.create_topic("out", partitions=2)
    p = sim.producer({"transactional.id": "t"})
    p.init_transactions()
    p.begin_transaction()
    p.produce("out", value="ok", partition=0)
    p.commit_transaction()
    p.begin_transaction()
    p.produce("out", value="open", partition=1)
    p.flush()
    fig = draw_transactions(sim, "out")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "LSO 2" in texts and "log end 2" in texts  # partition 0: record, commit marker
    assert "LSO 0" in texts and "log end 1" in texts  # partition 1: the open transaction holds it
    assert "C" in texts and "ok" in texts and "open" in texts
    assert tuple(fig.get_size_inches()) == (9.0, 1.6 + 0.6 * 2)
