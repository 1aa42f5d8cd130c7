"""The text a picture draws is checked as data: the partition board writes each partition's lag,
and it must be the lag of the board's model (a planted bug labelling the committed offset as the
lag survived every test before issue 19)."""

import matplotlib

matplotlib.use("Agg")

from eda_sim import Simulation  # noqa: E402
from eda_sim.kafka import TopicPartition  # noqa: E402
from eda_sim.views.partition_board import board, draw_board  # noqa: E402


def test_the_lag_the_board_writes_is_the_lag_of_its_model():
    sim = Simulation(seed=3, name="board-text")
    sim.create_topic("t", partitions=3)
    p = sim.producer()
    for part, n in ((0, 7), (1, 4), (2, 2)):
        for i in range(n):
            p.produce("t", value=str(i), partition=part)
    p.flush()
    c = sim.consumer(
        {"group.id": "g", "enable.auto.commit": False, "auto.offset.reset": "earliest"}
    )
    c.subscribe(["t"])
    c.consume(20, 0.1)
    c.commit(offsets=[TopicPartition("t", 0, 2), TopicPartition("t", 1, 4)], asynchronous=False)
    model = board(sim, "t", group="g").set_index("partition")
    fig = draw_board(sim, "t", group="g")
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    lags = sorted(t for t in texts if t.startswith("lag"))
    assert len(lags) == 3
    want = sorted(
        "lag –"
        if model.loc[q, "lag"] is None or str(model.loc[q, "lag"]) == "<NA>"
        else f"lag {int(model.loc[q, 'lag'])}"
        for q in range(3)
    )
    assert [t.split(" ·")[0] for t in lags] == want
    assert int(model.loc[0, "lag"]) == 5 and int(model.loc[0, "committed"]) == 2
    assert any(t.startswith("lag 5") for t in texts) and not any(
        t.startswith("lag 2 ") for t in texts
    )
