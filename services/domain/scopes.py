"""Scope ids: the grammar of the names figures are kept and served under.

``all``, ``platform/<p>``, ``category/<c>`` and ``<kind>/<platform>/<key>`` (``account``, ``queue``, ``agent``);
the light kinds ``queue_agent/<platform>/<queue>/<agent>``, ``queue_category/<platform>/<queue>/<category>`` and
``queue_agent_category/<platform>/<queue>/<agent>/<category>`` percent-encode their keys (ids may hold ``/``). Written here once for the aggregator, which files
contributions under them, and the API, which parses them back.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TypedDict
from urllib.parse import quote, unquote

# Scopes that only keep day buckets of catalogue.DAY_COUNTERS (no totals, no minute or quarter buckets, no gauges): the
# queue x agent and queue x category figures behind outlier judgements, and queue x agent x category behind "who
# needs training on what" (bounded: a queue's categories are those of the config, at most 50), cheap enough to keep
# for every pair.
LIGHT_KINDS = ("queue_agent/", "queue_category/", "queue_agent_category/")


def is_light(scope: str) -> bool:
    return scope.startswith(LIGHT_KINDS)


def scope_id(kind: str, platform: str | None = None, key: str | None = None) -> str:
    if kind == "all":
        return "all"
    if kind == "platform":
        return f"platform/{platform}"
    if kind == "category":
        return f"category/{key}"  # categories span platforms (the config maps each platform's values)
    return f"{kind}/{platform}/{key}"


class ScopeLabels(TypedDict):
    kind: str
    platform: str | None
    id: str | None


def describe_scope(scope: str) -> ScopeLabels:
    """Labels of a scope id: ``{"kind", "platform", "id"}`` (``id`` may itself contain ``/``)."""
    if scope == "all":
        return {"kind": "all", "platform": None, "id": None}
    kind, _, rest = scope.partition("/")
    if kind == "platform":
        return {"kind": kind, "platform": rest, "id": None}
    if kind == "category":
        return {"kind": kind, "platform": None, "id": rest}
    platform, _, key = rest.partition("/")
    return {"kind": kind, "platform": platform, "id": key}  # light kinds: "<quoted queue>/<quoted agent|category>"


@lru_cache(maxsize=65_536)
def _quoted(value: str) -> str:
    return quote(value, safe="")


def light_scope(kind: str, platform: str, queue: str, key: str) -> str:
    """``queue_agent/<platform>/<queue>/<agent>`` or ``queue_category/<platform>/<queue>/<category>``, queue and
    key percent-encoded (ids may hold ``/``)."""
    return f"{kind}/{platform}/{_quoted(queue)}/{_quoted(key)}"


def agent_category_scope(platform: str, queue: str, agent: str, category: str) -> str:
    """``queue_agent_category/<platform>/<queue>/<agent>/<category>``, each key percent-encoded."""
    return f"queue_agent_category/{platform}/{_quoted(queue)}/{_quoted(agent)}/{_quoted(category)}"


def parse_agent_category_scope(scope: str) -> tuple[str, str, str, str]:
    """(platform, queue, agent, category) of a ``queue_agent_category`` scope id."""
    _, platform, queue, agent, category = scope.split("/", 4)
    return platform, unquote(queue), unquote(agent), unquote(category)


def parse_light_scope(scope: str) -> tuple[str, str, str, str]:
    """(kind, platform, queue, agent or category) of a light scope id."""
    kind, platform, queue, key = scope.split("/", 3)
    return kind, platform, unquote(queue), unquote(key)
