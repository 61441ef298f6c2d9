"""Goal attainment as CSV rows (``GET /v1/export/attainment.csv``): every team and every agent in it, each goal's
figure over the period against its target, from the same team bodies as ``/v1/queues/{queue}/team``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

COLUMNS = (
    "level",
    "platform",
    "queue",
    "queue_name",
    "agent",
    "agent_name",
    "period",
    "from",
    "to",
    "figure",
    "goal",
    "value",
    "status",
    "versus_team",
    "resolved",
)


def _value(value: Any) -> Any:
    if value is None:
        return ""
    return 0.0 if isinstance(value, float) and value == 0 else value  # never "-0.0"


def attainment_rows(team: Mapping[str, Any], agents: Iterable[Mapping[str, Any]]) -> Iterator[list[Any]]:
    """One row per goal for the team, then per goal for each of ``agents`` (rows of the team body); a figure
    without data has an empty value and status."""
    goals: Mapping[str, str] = team["goals"]
    common = [team["platform"], team["id"], _value(team["name"])]
    period = [team["period"], team["from"], team["to"]]
    queue = team["queue"]
    for figure, goal in goals.items():
        yield ["team", *common, "", "", *period, figure, goal, _value(queue["quality"][figure]),
               _value(queue["status"][figure]), "", queue["volume"]["resolved"]]  # fmt: skip
    for row in agents:
        for figure, goal in goals.items():
            yield ["agent", *common, row["agent"], _value(row["name"]), *period, figure, goal,
                   _value(row["quality"][figure]), _value(row["status"][figure]),
                   _value(row["versus_team"][figure]), row["volume"]["resolved"]]  # fmt: skip


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)  # RFC 4180 line ends
    return out.getvalue()
