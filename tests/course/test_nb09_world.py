"""Tests for eda_sim.course.nb09.world: the notebook-09 tables and the replay."""

import pytest

from eda_sim.course.nb09.world import CHANGES, FORMATS, readers, replay, verdict, verdicts


def test_the_headline_verdicts():
    full = verdicts("FULL")
    assert list(full.columns) == list(FORMATS) and list(full.index) == list(CHANGES)
    # adding a field with a default: Avro passes FULL; JSON fails it open or closed
    assert full.loc[CHANGES[0]].tolist() == [
        "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
        "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
        "ok",
    ]
    backward = verdicts("BACKWARD")
    assert backward.loc[CHANGES[0]].tolist() == ["PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", "ok", "ok"]
    assert (
        backward.loc[CHANGES[1], "Avro"] == "ok"
    )  # the alias makes the rename backward-compatible
    assert not verdict(CHANGES[1], "Avro", "FORWARD").is_compatible


def test_readers_agree_with_the_verdicts():
    added = readers(CHANGES[0])
    assert "device=web" in added.loc["Avro", "new reader, old record"]  # Avro fills the default
    assert "device" not in added.loc["JSON open", "new reader, old record"]  # JSON does not
    assert added.loc["JSON closed", "old reader, new record"].startswith("error:")
    renamed = readers(CHANGES[1])
    assert "amount=19.5" in renamed.loc["Avro", "new reader, old record"]
    assert renamed.loc["JSON open", "new reader, old record"].startswith("error:")


@pytest.mark.parametrize("level", ["BACKWARD", "BACKWARD_TRANSITIVE"])
def test_replay_from_the_log_start(level):
    registered, handled, dlt = replay(level)
    if level == "BACKWARD":
        assert registered == ["v1 registered", "v2 registered", "v3 registered"]
        assert [h["order"] for h in handled] == ["o3", "o4", "o5"]
        assert list(dlt["original_offset"]) == [0, 1]
        assert all("string is not int" in m for m in dlt["message"])
    else:
        assert registered[2].startswith("v3 refused") and "TYPE_MISMATCH" in registered[2]
        assert [h["order"] for h in handled] == ["o1", "o2", "o3", "o4"]
        assert dlt is None
