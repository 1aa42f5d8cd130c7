"""The compaction picture's model: every offset once, gaps where the cleaner removed records, parts in order."""

from eda_sim.course.nb11.world import FEATURES, feature_store_world
from eda_sim.views.compaction import compaction_cells, draw_compaction


def test_cells_cover_the_log_and_show_the_gaps_and_parts_in_order():
    sim = feature_store_world()
    log = sim.topic(FEATURES).partitions[0]
    cells = compaction_cells(sim, FEATURES)
    assert cells["offset"].tolist() == list(range(log.log_start_offset, log.log_end_offset))
    assert int(cells["present"].sum()) == len(log.records())
    assert int((~cells["present"]).sum()) == sum(r.count for r in sim.journal.rows("compacted"))
    order = {"clean": 0, "dirty": 1, "waiting": 2, "active": 3}
    ranks = [order[p] for p in cells["part"]]
    assert ranks == sorted(ranks) and ranks[-1] == 3
    assert cells.loc[cells["part"] == "active", "present"].all()  # the active segment is untouched


def test_the_picture_has_a_fixed_size():
    fig = draw_compaction(feature_store_world(), FEATURES)
    assert tuple(fig.get_size_inches()) == (10.0, 2.2)
