"""The demo's own output (services/demo/run.py) when its reader has gone."""

import os
import sys

from services.demo import run


def test_lines_to_a_closed_pipe_are_dropped_not_raised(monkeypatch):
    read_end, write_end = os.pipe()
    os.close(read_end)  # `make demo | tee log`, and tee stopped by the same Ctrl-C
    saved = os.dup(1)
    try:
        os.dup2(write_end, 1)
        stdout = os.fdopen(1, "w", closefd=False)
        monkeypatch.setattr(sys, "stdout", stdout)
        run._say("stopping…")  # BrokenPipeError inside: handled
        run._say("stopped.")  # and the next line goes to /dev/null
        assert os.readlink("/proc/self/fd/1") == os.devnull
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(write_end)


def test_the_aggregator_of_a_fresh_demo_cluster_keeps_its_state_in_the_directory_it_is_given(tmp_path):
    """A fresh cluster per demo needs a fresh aggregator state: a disk copy of the old cluster's changelog would be
    ahead of the new one (Faust refuses to start on it)."""
    fresh = {s.name: s.env for s in run.demo_services("127.0.0.1:1", 9, tmp_path, tmp_path / "state")}
    assert fresh["aggregator"]["DESKPULSE_DATA_DIR"] == str(tmp_path / "state")
    default = {s.name: s.env for s in run.demo_services("127.0.0.1:1", 9, tmp_path)}
    assert "DESKPULSE_DATA_DIR" not in default["aggregator"]  # the user's own Kafka: the configured directory


def test_the_demo_offers_the_pages_of_the_busiest_team_and_agent_of_the_replay():
    feed = run.ReplayFeed("bpi2013", since=None, speed=1.0)
    feed.events = [{"platform": "bpi", "queue_id": q, "agent_id": a}
                   for q, a in (("V3 2", "Siebel"), ("V3 2", "Siebel"), ("G97", "Value 1"))]
    pages = feed.examples()
    assert pages["director"] == "/director"
    assert pages["busiest team"] == "/team/bpi/V3%202" and pages["busiest agent"] == "/agent/bpi/Siebel"
    assert run.SyntheticFeed.examples(None)["a team"] == "/team/zendesk/billing"


def test_the_default_demo_is_the_synthetic_floor_with_its_sla_policies_and_goals(tmp_path, monkeypatch):
    from services.cli import build_parser

    assert build_parser().parse_args(["demo"]).source == "synthetic"
    feed = run.make_feed("synthetic", since=None, speed=None, rate=40, history_contacts=10)
    assert feed.sla_config == run.FLOOR and "18 agents changing state" in feed.describe()
    assert run.make_feed("bpi2013", since=None, speed=None, rate=40, history_contacts=10).sla_config is None
    monkeypatch.delenv("DESKPULSE_SLA_CONFIG", raising=False)
    env = {s.name: s.env for s in run.demo_services("127.0.0.1:1", 9, tmp_path, sla_config=feed.sla_config)}
    assert env["aggregator"]["DESKPULSE_SLA_CONFIG"] == env["api"]["DESKPULSE_SLA_CONFIG"] == str(run.FLOOR)
    monkeypatch.setenv("DESKPULSE_SLA_CONFIG", "/etc/mine.yaml")  # the user's own config wins
    env = {s.name: s.env for s in run.demo_services("127.0.0.1:1", 9, tmp_path, sla_config=feed.sla_config)}
    assert "DESKPULSE_SLA_CONFIG" not in env["api"]
