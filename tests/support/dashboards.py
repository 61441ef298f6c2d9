"""Walk the generated dashboards' PromQL, with Grafana macros and variables replaced (OBSERVABILITY.md §7)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))

# Longest first: $__range_s before $__range. The windows cover a whole test run.
MACROS = {"$__rate_interval": "5m", "$__interval": "15s", "$__range_s": "3600", "$__range": "1h"}


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def panels(dashboard: dict) -> Iterator[dict]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows


def queries(dashboard: dict) -> Iterator[tuple[str, str, str]]:
    """(panel title, refId, expr) of every Prometheus target."""
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            if target.get("expr"):
                yield panel["title"], target.get("refId", "A"), target["expr"]


def variables(dashboard: dict) -> list[dict]:
    return (dashboard.get("templating") or {}).get("list", [])


def substitute(expr: str, values: dict[str, str]) -> str:
    """Macros, then ``${var}`` / ``$var`` with the given values (a regex value for multi-value variables)."""
    for macro in sorted(MACROS, key=len, reverse=True):
        expr = expr.replace(macro, MACROS[macro])
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace("${" + name + "}", values[name]).replace("$" + name, values[name])
    return expr


def used_variables(expr: str) -> set[str]:
    return {m for m in re.findall(r"\$\{?(\w+)", expr) if not m.startswith("__")}
