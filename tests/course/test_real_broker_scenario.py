"""Notebook 16's story: the same summary on the simulator and on a real redis-server with real processes.

The Redis tests start ``redis-server`` on a free loopback port with persistence
off and a throwaway directory (module fixture). Without ``redis-server`` they
skip, except under CI (``$CI`` set), where a missing server is a failure.
"""

import os
import re

import pytest

from eda_sim.backends.redis.server import ENV_URL, free_port, start_hint
from eda_sim.course.nb16 import world as rb
from eda_sim.course.nb16.world import (
    BROKERS,
    INSTANCES,
    POISON_USER,
    Backend,
    broker_terms,
    run_story,
    views,
)
from eda_sim.kafka.partitioner import crc32_partition

SUMMARY = """\
views produced: 31 (30 good, 1 poison)
recommendations: 30 for 30 good views
lost: 0, duplicated: 0
dead-lettered: a view of u005 (ValueError: view without product_id: nothing to learn from), after 3 tries
killed mid-stream: recommender-1; recommender-2 took over its partitions and finished them
each user's recommendations follow the order of their views: yes"""


try:
    import redis  # noqa: F401
except ImportError:  # pragma: no cover - requirements.txt installs it
    redis = None


@pytest.fixture(scope="module")
def server(redis_server):
    return redis_server


# -- the events ------------------------------------------------------------------------------------------


def test_the_frontend_sends_thirty_views_of_eight_users_and_one_poison_on_the_survivors_partition():
    items = views()
    assert len(items) == 31 and [i["time"] for i in items] == sorted(i["time"] for i in items)
    poison = [i for i in items if not i.get("product_id")]
    assert poison == [items[8]] and poison[0]["user_id"] == POISON_USER
    assert len({i["user_id"] for i in items}) <= 8
    # u005's partition is read by recommender-2 (round-robin by member name), which is never killed
    assert crc32_partition(POISON_USER.encode(), 3) == 1 == INSTANCES.index("recommender-2")


def test_views_and_run_story_refuse_bad_input_with_the_valid_range():
    with pytest.raises(ValueError, match="from 1 to 90"):
        views(0)
    with pytest.raises(ValueError, match="poison_at"):
        views(10, poison_at=11)
    with pytest.raises(ValueError, match="max_deliveries must be a whole number from 1 to 10"):
        run_story(max_deliveries=0)
    with pytest.raises(TypeError, match="kill must be True or False"):
        run_story(kill="yes")


# -- on the simulator ------------------------------------------------------------------------------------


def test_on_the_simulator_the_kill_loses_and_doubles_nothing_and_the_poison_is_parked_after_three_tries():
    run = run_story()
    assert run.backend == "simulator" and repr(run) == SUMMARY
    assert (run.lost, run.duplicated, run.recommended, run.good) == (0, 0, 30, 30)
    assert run.owners == {"recommender-1": [0, 2], "recommender-2": [1]}
    assert run.killed == "recommender-1" and run.taken_over and run.in_order
    assert "redelivered from the last committed offset" in run.details()


@pytest.mark.parametrize(
    "settings, line",
    [
        (dict(all_transient=False), "nothing to learn from), after 1 try"),
        (dict(max_deliveries=5), "after 5 tries"),
        (dict(kill=False), "killed mid-stream: nobody"),
    ],
)
def test_the_settings_change_only_the_lines_they_are_about(settings, line):
    text = repr(run_story(**settings))
    assert line in text
    assert "lost: 0, duplicated: 0" in text and "recommendations: 30 for 30 good views" in text


# -- on Redis, in real processes --------------------------------------------------------------------------


def test_on_redis_the_same_story_gives_the_same_summary_with_a_real_kill_and_claims(server):
    run = run_story(server.url)
    assert run.backend == "redis"
    assert repr(run) == SUMMARY == repr(run_story())
    # the killed process really had views in flight, and the survivor claimed and handled them
    assert run.in_flight_at_kill >= 1 and run.claimed == run.in_flight_at_kill
    assert run.deliveries == 3
    details = run.details()
    assert "claimed from the pending-entries list by recommender-2" in details
    assert "recommender-1: read partition(s) 0, 2 at first" in details and "killed" in details
    assert (
        not re.search(r" in [0-9.]+ s\b", details) and run.seconds > 0
    )  # no wall clock in the saved text


def test_on_redis_other_settings_match_the_simulator_too(server):
    settings = dict(kill=False, all_transient=False)
    assert repr(run_story(server.url, **settings)) == repr(run_story("simulator", **settings))


def test_a_run_deletes_only_its_own_keys_on_the_server(server):
    from eda_sim.backends.redis.backend import connect

    client = connect(server.url)
    client.set("someone-elses:key", "keep me")
    rb.reset(server.url)
    assert client.get("someone-elses:key") == b"keep me"
    assert not any(k.startswith(b"eda:group:recommender:") for k in client.scan_iter())
    client.delete("someone-elses:key")
    client.close()


# -- finding a server ------------------------------------------------------------------------------------


def test_without_a_server_the_backend_is_the_simulator_and_says_how_to_start_one(monkeypatch):
    monkeypatch.setenv(ENV_URL, f"redis://127.0.0.1:{free_port()}/0")
    backend = Backend.find(start=False)
    assert backend.kind == "simulator" and not backend.redis
    assert str(backend).startswith(f"${ENV_URL} is set, but no Redis server answers there.")
    assert start_hint() in str(backend)
    monkeypatch.delenv(ENV_URL)
    assert str(Backend.find(start=False)).startswith("No Redis server is reachable")


def test_a_server_named_in_the_environment_is_used(server, monkeypatch):
    monkeypatch.setenv(ENV_URL, server.url)
    backend = Backend.find()
    assert (backend.kind, backend.url, backend.server) == ("redis", server.url, None)
    assert str(backend) == f"Redis at {server.url} (the server in ${ENV_URL})"


def test_with_redis_server_installed_a_throwaway_server_is_started_and_stopped(server, monkeypatch):
    monkeypatch.delenv(ENV_URL, raising=False)
    backend = Backend.find()
    try:
        assert backend.redis and backend.server is not None and backend.server.running
        assert "throwaway redis-server" in str(backend)
    finally:
        started = backend.server
        backend.close()
    assert not started.running and backend.server is None
    assert not backend.redis and "was stopped, so the simulator runs the story" in str(backend)
    assert run_story(backend, kill=False).killed is None  # runs on, on the simulator


def test_an_unreachable_server_in_the_environment_is_mentioned_when_a_throwaway_one_is_started(
    server, monkeypatch
):
    monkeypatch.setenv(ENV_URL, f"redis://127.0.0.1:{free_port()}/0")
    backend = Backend.find()
    try:
        assert backend.redis and backend.url != os.environ[ENV_URL]
        assert str(backend).endswith(f"${ENV_URL} is set, but no Redis server answers there.)")
    finally:
        backend.close()


# -- the brokers' terms -----------------------------------------------------------------------------------


def test_the_terms_table_maps_each_idea_for_each_broker_of_the_chapter():
    table = broker_terms()
    assert (
        list(table.columns)
        == list(BROKERS)
        == ["Kafka", "Kinesis", "Event Hubs", "Pub/Sub", "Redis Streams"]
    )
    assert table.loc["unit of order and scale", "Kinesis"] == "shard"
    assert table.loc["position of an event", "Kinesis"] == "sequence number"
    assert table.loc["independent reader", "Pub/Sub"] == "subscription"
    assert "ordering key" in table.loc["unit of order and scale", "Pub/Sub"]
    assert table.loc["independent reader", "Event Hubs"] == "consumer group"
    assert table.notna().all().all()
