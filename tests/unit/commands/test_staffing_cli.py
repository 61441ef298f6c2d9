"""``deskpulse staffing`` run in-process through ``services.cli.main``."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import run

# Call Centre Helper's worked example (see tests/unit/aggregator/test_staffing.py): 14 agents, 20 scheduled.
CLASSIC = ["staffing", "--calls", "100", "--interval", "1800", "--aht", "180", "--target-sl", "0.8",
           "--target-answer", "20"]


def test_text_output_has_every_figure_aligned(capsys):
    code, out, err = run(CLASSIC + ["--shrinkage", "0.3", "--max-occupancy", "0.85", "--agents", "12"], capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("Staffing forecast (Erlang C")
    assert "10.00 Erlangs" in out
    assert "200.0 per hour" in out
    assert "Agents required            14 taking contacts (set by the service-level target)" in out
    assert "Agents to schedule         20" in out
    assert "88.8 % answered within 20 s" in out
    assert "Average speed of answer  7.8 s" in out
    assert "Probability of waiting   17.4 %" in out
    assert "Occupancy                71.4 %" in out
    assert "Agents available now       12" in out
    assert "64.0 % answered within 20 s  (below target)" in out
    assert "Short of required        2 agents" in out
    # every value starts in the same column, whatever the label
    labels = ("Arrivals", "Workload", "Agents required", "  Service level", "  Average speed of answer",
              "Agents to schedule", "Agents available now", "  Short of required")
    starts = {len(line) - len(line[len(label):].lstrip())
              for line in lines for label in labels if line.startswith(label + " ")}
    assert len(starts) == 1


def test_json_output(capsys):
    code, out, err = run(CLASSIC + ["--shrinkage", "0.3", "--agents", "15", "--json"], capsys)
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["traffic_erlangs"] == 10.0
    assert data["required_agents"] == 14 and data["scheduled_agents"] == 20
    assert data["max_occupancy"] is None
    assert data["at_required"]["wait_probability"] == pytest.approx(0.1741319, abs=5e-8)
    assert data["now"]["agents"] == 15 and data["now"]["stable"] is True
    assert data["now"]["service_level"] > data["at_required"]["service_level"]


def test_unstable_queue_is_explicit_in_text_and_json(capsys):
    code, out, _ = run(CLASSIC + ["--agents", "8"], capsys)
    assert code == 0
    assert "UNSTABLE: 8 agents <= 10.00 Erlangs offered" in out
    assert "infinite (unstable queue)" in out
    code, out, _ = run(CLASSIC + ["--agents", "8", "--json"], capsys)
    now = json.loads(out)["now"]
    assert code == 0
    assert now == {"agents": 8, "stable": False, "wait_probability": 1.0, "service_level": 0.0, "asa_s": None,
                   "occupancy": 1.0}


def test_zero_arrivals_need_nobody(capsys):
    argv = ["staffing", "--calls", "0", "--interval", "1800", "--aht", "180", "--target-sl", "0.8",
            "--target-answer", "20", "--json"]
    code, out, _ = run(argv, capsys)
    assert code == 0
    assert json.loads(out)["required_agents"] == 0
    code, out, _ = run(argv[:-1], capsys)
    assert code == 0 and "0 taking contacts (no workload)" in out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--target-sl", "80"], "target_sl must be a share in (0, 1]"),
        (["--shrinkage", "1"], "shrinkage must be a share in [0, 1)"),
        (["--max-occupancy", "0"], "max_occupancy must be a share in (0, 1]"),
        (["--agents", "-3"], "agents must not be negative"),
        (["--interval", "0"], "interval_s must be positive"),
        (["--calls", "-1"], "contacts must not be negative"),
        (["--aht", "nan"], "aht_s must be a finite number"),
    ],
)
def test_bad_values_exit_2_with_a_message(capsys, extra, message):
    argv = list(CLASSIC)
    flag = extra[0]
    if flag in argv:
        del argv[argv.index(flag):argv.index(flag) + 2]
    code, out, err = run(argv + extra, capsys)
    assert code == 2
    assert out == ""
    assert err.startswith("deskpulse staffing: ") and message in err


@pytest.mark.parametrize(
    "argv",
    [
        CLASSIC[:-2],  # --target-answer missing
        CLASSIC + ["--agents", "2.5"],
        ["staffing", "--calls", "many", "--interval", "1800", "--aht", "180", "--target-sl", "0.8",
         "--target-answer", "20"],
    ],
)
def test_malformed_arguments_exit_2(capsys, argv):
    code, out, err = run(argv, capsys)
    assert code == 2
    assert out == ""
    assert "usage: deskpulse staffing" in err
